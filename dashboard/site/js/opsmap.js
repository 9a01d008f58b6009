// The operations map, drawn by Leaflet with no tile server: a hand-made outline of the county,
// its main roads and towns (geo/northamptonshire.json), and the operation's locations sized by
// activity. The same figures are listed beside the map for people who cannot see it.

import * as L from '/vendor/leaflet/leaflet-src.esm.js';
import { num } from './fmt.js';
import { KIND } from './labels.js';

export class OpsMap {
  constructor(el, tiles) {
    this.map = L.map(el, { zoomSnap: 0.25, attributionControl: false, keyboard: true, scrollWheelZoom: false });
    this.base = L.layerGroup().addTo(this.map);
    this.points = L.layerGroup().addTo(this.map);
    this.outlineBounds = null;
    this.map.setView([52.3, -0.9], 9);
    // An optional tile layer, configured on the server (--map-tiles); none by default.
    if (tiles) L.tileLayer(tiles, { maxZoom: 18 }).addTo(this.map);
  }

  /** drawOutline adds the county outline, roads and towns. */
  async drawOutline(url) {
    const res = await fetch(url);
    if (!res.ok) return;
    const fc = await res.json();
    const layer = L.geoJSON(fc, {
      style: (f) => {
        const p = f.properties;
        if (p.kind === 'county') return { color: '#3d4a57', weight: 2, fillColor: '#e8eef4', fillOpacity: 1 };
        if (p.kind === 'road') return p.motorway ? { color: '#1d4f91', weight: 5, opacity: 0.9 } : { color: '#2f7d4a', weight: 3.5, opacity: 0.9, dashArray: '10 4' };
        return {};
      },
      pointToLayer: (f, latlng) => L.circleMarker(latlng, { radius: 3, color: '#3d4a57', weight: 1, fillColor: '#3d4a57', fillOpacity: 1, interactive: false }),
      onEachFeature: (f, lyr) => {
        const p = f.properties;
        if (p.kind === 'town') lyr.bindTooltip(p.name, { permanent: true, direction: 'right', className: 'map-town', offset: [4, 0] });
        if (p.kind === 'road') {
          const coords = f.geometry.coordinates;
          const [lon, lat] = coords[Math.floor(coords.length / 3)];
          L.tooltip({ permanent: true, direction: 'center', className: `map-road${p.motorway ? ' map-road-m' : ''}` })
            .setLatLng([lat, lon]).setContent(p.name).addTo(this.base);
        }
      },
    });
    layer.addTo(this.base);
    this.outlineBounds = layer.getBounds();
    this.map.fitBounds(this.outlineBounds, { padding: [8, 8] });
  }

  /** setLocations draws each location with its count of the chosen measure. */
  setLocations(locations, measure, measureLabel) {
    this.points.clearLayers();
    const pts = [];
    const max = Math.max(1, ...locations.map((l) => l.totals?.[measure] ?? 0));
    for (const l of locations) {
      if (!Number.isFinite(l.latitude) || !Number.isFinite(l.longitude) || (l.latitude === 0 && l.longitude === 0)) continue;
      const n = l.totals?.[measure] ?? 0;
      const ll = [l.latitude, l.longitude];
      pts.push(ll);
      const m = L.circleMarker(ll, {
        radius: 7 + 14 * Math.sqrt(n / max), color: '#0b2a4a', weight: 2, fillColor: n ? '#ffc82e' : '#ffffff', fillOpacity: 0.95,
      });
      m.bindTooltip(`${num(n)}`, { permanent: true, direction: 'top', className: 'map-count', offset: [0, -6] });
      const popup = document.createElement('div');
      const title = document.createElement('strong');
      title.textContent = l.name;
      const line = document.createElement('div');
      line.textContent = `${KIND[l.kind] ?? ''}${l.road ? ` · ${l.road}` : ''}${l.junction ? ` ${l.junction}` : ''}`;
      const figs = document.createElement('div');
      figs.textContent = `${measureLabel}: ${num(n)} · outcomes logged: ${num(l.outcomes ?? 0)}`;
      popup.append(title, line, figs);
      m.bindPopup(popup);
      m.addTo(this.points);
    }
    if (!this.outlineBounds && pts.length) this.map.fitBounds(L.latLngBounds(pts), { padding: [24, 24], maxZoom: 11 });
  }

  invalidate() {
    this.map.invalidateSize();
    if (this.outlineBounds) this.map.fitBounds(this.outlineBounds, { padding: [8, 8] });
  }
}
