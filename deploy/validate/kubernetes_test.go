package validate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

var kubernetesDir = filepath.Join(repoRoot, "deploy", "kubernetes")

// manifests are the objects of deploy/kubernetes, decoded into the official API types.
type manifests struct {
	configMaps  []*corev1.ConfigMap
	secrets     []*corev1.Secret
	services    []*corev1.Service
	deployments []*appsv1.Deployment
	jobs        []*batchv1.Job
	ingresses   []*networkingv1.Ingress
	pdbs        []*policyv1.PodDisruptionBudget
}

// newObject returns an empty object of the API type for apiVersion and kind.
func newObject(apiVersion, kind string) (any, error) {
	switch apiVersion + " " + kind {
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "v1 Secret":
		return &corev1.Secret{}, nil
	case "v1 Service":
		return &corev1.Service{}, nil
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}, nil
	case "batch/v1 Job":
		return &batchv1.Job{}, nil
	case "networking.k8s.io/v1 Ingress":
		return &networkingv1.Ingress{}, nil
	case "policy/v1 PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, nil
	}
	return nil, fmt.Errorf("unexpected apiVersion %q kind %q", apiVersion, kind)
}

var docSeparator = regexp.MustCompile(`(?m)^---\s*$`)

// decodeStrict decodes one YAML document into its API type; an unknown or duplicated field is
// an error, as `kubectl apply --validate=strict` would make it.
func decodeStrict(doc []byte) (any, error) {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, err
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(js, &tm); err != nil {
		return nil, err
	}
	obj, err := newObject(tm.APIVersion, tm.Kind)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(obj); err != nil {
		return nil, fmt.Errorf("%s: %w", tm.Kind, err)
	}
	return obj, nil
}

func mustLoadManifests(tb testing.TB) manifests {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(kubernetesDir, "*.y*ml"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no manifests in %s (%v)", kubernetesDir, err)
	}
	var m manifests
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		for i, doc := range docSeparator.Split(string(b), -1) {
			if strings.TrimSpace(regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAllString(doc, "")) == "" {
				continue
			}
			obj, err := decodeStrict([]byte(doc))
			if err != nil {
				tb.Fatalf("%s (document %d): %v", filepath.Base(f), i+1, err)
			}
			switch o := obj.(type) {
			case *corev1.ConfigMap:
				m.configMaps = append(m.configMaps, o)
			case *corev1.Secret:
				m.secrets = append(m.secrets, o)
			case *corev1.Service:
				m.services = append(m.services, o)
			case *appsv1.Deployment:
				m.deployments = append(m.deployments, o)
			case *batchv1.Job:
				m.jobs = append(m.jobs, o)
			case *networkingv1.Ingress:
				m.ingresses = append(m.ingresses, o)
			case *policyv1.PodDisruptionBudget:
				m.pdbs = append(m.pdbs, o)
			}
		}
	}
	if len(m.configMaps) != 1 || len(m.secrets) != 1 || len(m.services) != 1 || len(m.deployments) != 1 ||
		len(m.jobs) != 1 || len(m.ingresses) != 1 || len(m.pdbs) != 1 {
		tb.Fatalf("want one each of ConfigMap, Secret, Service, Deployment, Job, Ingress and PodDisruptionBudget; have %d, %d, %d, %d, %d, %d, %d",
			len(m.configMaps), len(m.secrets), len(m.services), len(m.deployments), len(m.jobs), len(m.ingresses), len(m.pdbs))
	}
	return m
}

func TestStrictDecodeRejectsUnknownFields(t *testing.T) {
	_, err := decodeStrict([]byte("apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n  selecotr: {a: b}\n"))
	if err == nil || !strings.Contains(err.Error(), "selecotr") {
		t.Fatalf("a misspelt field decoded without error (err %v)", err)
	}
	if _, err := decodeStrict([]byte("apiVersion: v1\nkind: Service\nmetadata: {name: x}\nmetadata: {name: y}\n")); err == nil {
		t.Fatal("a duplicated key decoded without error")
	}
}

// shutdownTimeout is the app's AIDANT_SHUTDOWN_TIMEOUT under the ConfigMap, or its default.
func shutdownTimeout(tb testing.TB, cm *corev1.ConfigMap) time.Duration {
	tb.Helper()
	v := cm.Data["AIDANT_SHUTDOWN_TIMEOUT"]
	if v == "" {
		m := regexp.MustCompile(`"AIDANT_SHUTDOWN_TIMEOUT",\s*"([^"]+)"`).FindStringSubmatch(mustRead(tb, "cmd/aidant/config.go"))
		if m == nil {
			tb.Fatal("no default for AIDANT_SHUTDOWN_TIMEOUT in config.go")
		}
		v = m[1]
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		tb.Fatalf("AIDANT_SHUTDOWN_TIMEOUT %q: %v", v, err)
	}
	return d
}

// containerPort resolves a probe's or Service's port (a number or a name) on c.
func containerPort(c corev1.Container, p intstr.IntOrString) int32 {
	if p.Type == intstr.Int {
		return p.IntVal
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort
		}
	}
	return -1
}

// wantLockedDown checks the pod and container run as non-root, read-only, with no capabilities.
func wantLockedDown(t *testing.T, what string, pod corev1.PodSpec, c corev1.Container) {
	t.Helper()
	nonRoot := func(sc *corev1.PodSecurityContext, csc *corev1.SecurityContext) bool {
		if csc != nil && csc.RunAsNonRoot != nil {
			return *csc.RunAsNonRoot
		}
		return sc != nil && sc.RunAsNonRoot != nil && *sc.RunAsNonRoot
	}
	if !nonRoot(pod.SecurityContext, c.SecurityContext) {
		t.Errorf("%s: runAsNonRoot is not true", what)
	}
	if sc := pod.SecurityContext; sc != nil && sc.RunAsUser != nil && *sc.RunAsUser == 0 {
		t.Errorf("%s: runAsUser 0", what)
	}
	sc := c.SecurityContext
	if sc == nil {
		t.Errorf("%s: container %s has no securityContext", what, c.Name)
		return
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("%s: readOnlyRootFilesystem is not true", what)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("%s: allowPrivilegeEscalation is not false", what)
	}
	if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
		t.Errorf("%s: capabilities must drop ALL and add none: %+v", what, sc.Capabilities)
	}
	if sc.Privileged != nil && *sc.Privileged {
		t.Errorf("%s: privileged", what)
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[r]; !ok {
			t.Errorf("%s: no %s request", what, r)
		}
		if _, ok := c.Resources.Limits[r]; !ok {
			t.Errorf("%s: no %s limit", what, r)
		}
	}
}

// wantRealSettings checks every environment variable a container gets names a setting of the
// app, that DATABASE_URL comes from the Secret and that referenced objects and keys exist.
func wantRealSettings(t *testing.T, what string, c corev1.Container, m manifests, settings map[string]bool) map[string]string {
	t.Helper()
	cm, secret := m.configMaps[0], m.secrets[0]
	effective := map[string]string{}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef == nil || from.ConfigMapRef.Name != cm.Name || from.Prefix != "" {
			t.Errorf("%s: envFrom %+v: want the ConfigMap %s without a prefix", what, from, cm.Name)
			continue
		}
		for k, v := range cm.Data {
			effective[k] = v
		}
	}
	for _, e := range c.Env {
		if !settings[e.Name] {
			t.Errorf("%s: env %s is not a setting of the app (%s)", what, e.Name, configGo)
		}
		switch {
		case e.ValueFrom == nil:
			effective[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			if ref.Name != secret.Name {
				t.Errorf("%s: %s from Secret %q, want %q", what, e.Name, ref.Name, secret.Name)
			} else if _, ok := secret.StringData[ref.Key]; !ok {
				t.Errorf("%s: %s from key %q, which Secret %s lacks", what, e.Name, ref.Key, secret.Name)
			}
			effective[e.Name] = "(secret)"
		case e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			v, ok := cm.Data[ref.Key]
			if ref.Name != cm.Name || !ok {
				t.Errorf("%s: %s from ConfigMap %s key %s, which does not exist", what, e.Name, ref.Name, ref.Key)
			}
			effective[e.Name] = v
		}
	}
	var dbURL *corev1.EnvVar
	for i := range c.Env {
		if c.Env[i].Name == "DATABASE_URL" {
			dbURL = &c.Env[i]
		}
	}
	if dbURL == nil || dbURL.ValueFrom == nil || dbURL.ValueFrom.SecretKeyRef == nil {
		t.Errorf("%s: DATABASE_URL must come from a Secret", what)
	}
	if _, inConfigMap := cm.Data["DATABASE_URL"]; inConfigMap {
		t.Errorf("%s: DATABASE_URL (with its password) is in the ConfigMap", what)
	}
	return effective
}

func TestKubernetesConfigMapAndSecret(t *testing.T) {
	m := mustLoadManifests(t)
	settings := mustAppSettings(t)
	for _, k := range sortedKeys(m.configMaps[0].Data) {
		if !settings[k] {
			t.Errorf("ConfigMap key %s is not a setting of the app (%s)", k, configGo)
		}
	}
	cm := m.configMaps[0].Data
	for k, want := range map[string]string{"AIDANT_ADDR": "0.0.0.0:8080", "AIDANT_MIGRATE": "false", "AIDANT_SECURE_COOKIES": "true"} {
		if got := cm[k]; got != want {
			t.Errorf("ConfigMap %s = %q, want %q", k, got, want)
		}
	}
	for _, c := range strings.Split(cm["AIDANT_TRUSTED_PROXIES"], ",") {
		if _, _, err := net.ParseCIDR(strings.TrimSpace(c)); err != nil {
			t.Errorf("AIDANT_TRUSTED_PROXIES %q: %v (the ingress's traffic must be trusted for X-Forwarded-Proto)", cm["AIDANT_TRUSTED_PROXIES"], err)
		}
	}
	s := m.secrets[0]
	if len(s.Data) > 0 {
		t.Error("the Secret has base64 data: commit only the documented placeholder in stringData")
	}
	for k, v := range s.StringData {
		if !strings.Contains(v, "CHANGE-ME") {
			t.Errorf("Secret key %s does not hold the CHANGE-ME placeholder: never commit a real credential", k)
		}
	}
}

func TestKubernetesDeployment(t *testing.T) {
	m := mustLoadManifests(t)
	d := m.deployments[0]
	pod := d.Spec.Template.Spec
	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		t.Fatal("replicas must be set to at least 2")
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Fatalf("the selector does not match the pod template's labels (%v)", err)
	}
	if ru := d.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
		t.Error("a rolling update should keep every replica until its successor is ready (maxUnavailable 0)")
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("want one container, have %d", len(pod.Containers))
	}
	c := pod.Containers[0]
	if len(c.Command) > 0 || len(c.Args) == 0 || c.Args[0] != "serve" || slices.Contains(c.Args, "--demo") || slices.Contains(c.Args, "--migrate") {
		t.Errorf("command %v args %v: want the image's entrypoint with args [serve]", c.Command, c.Args)
	}
	wantLockedDown(t, "Deployment", pod, c)
	effective := wantRealSettings(t, "Deployment", c, m, mustAppSettings(t))
	if got := effective["AIDANT_MIGRATE"]; got != "false" {
		t.Errorf("serve runs with AIDANT_MIGRATE=%q, want false (the Job migrates)", got)
	}
	_, port, err := net.SplitHostPort(effective["AIDANT_ADDR"])
	if err != nil || port != "8080" {
		t.Errorf("AIDANT_ADDR = %q, want 0.0.0.0:8080", effective["AIDANT_ADDR"])
	}
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 8080 {
		t.Errorf("container ports = %+v, want 8080", c.Ports)
	}

	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"readiness", c.ReadinessProbe, "/readyz"}, {"liveness", c.LivenessProbe, "/healthz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("no HTTP %s probe", p.name)
			continue
		}
		if got := p.probe.HTTPGet.Path; got != p.path {
			t.Errorf("%s probe path = %q, want %q", p.name, got, p.path)
		}
		if got := containerPort(c, p.probe.HTTPGet.Port); got != 8080 {
			t.Errorf("%s probe port %v is %d, want 8080", p.name, p.probe.HTTPGet.Port.String(), got)
		}
		if p.probe.HTTPGet.Scheme == corev1.URISchemeHTTPS && effective["AIDANT_TLS_CERT"] == "" {
			t.Errorf("%s probe uses HTTPS but the app serves HTTP", p.name)
		}
	}

	grace := int64(30) // Kubernetes' default
	if pod.TerminationGracePeriodSeconds != nil {
		grace = *pod.TerminationGracePeriodSeconds
	}
	need := shutdownTimeout(t, m.configMaps[0])
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
		if s := c.Lifecycle.PreStop.Sleep; s != nil {
			need += time.Duration(s.Seconds) * time.Second
		} else if c.Lifecycle.PreStop.Exec != nil {
			t.Error("preStop exec: the distroless image has no shell or sleep; use preStop.sleep")
		}
	}
	if time.Duration(grace)*time.Second <= need {
		t.Errorf("terminationGracePeriodSeconds %d must exceed the preStop sleep plus AIDANT_SHUTDOWN_TIMEOUT (%s)", grace, need)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("the app needs no Kubernetes API token: set automountServiceAccountToken false")
	}
}

func TestKubernetesMigrationJob(t *testing.T) {
	m := mustLoadManifests(t)
	j, d := m.jobs[0], m.deployments[0]
	pod := j.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("want one container, have %d", len(pod.Containers))
	}
	c := pod.Containers[0]
	if got, want := c.Args, []string{"migrate"}; len(c.Command) > 0 || !slices.Equal(got, want) {
		t.Errorf("command %v args %v, want args %v", c.Command, got, want)
	}
	if got, want := c.Image, d.Spec.Template.Spec.Containers[0].Image; got != want {
		t.Errorf("the Job runs image %q, the Deployment %q: migrate with the version you deploy", got, want)
	}
	if pod.RestartPolicy != corev1.RestartPolicyNever && pod.RestartPolicy != corev1.RestartPolicyOnFailure {
		t.Errorf("restartPolicy %q", pod.RestartPolicy)
	}
	if j.Spec.BackoffLimit == nil || j.Spec.ActiveDeadlineSeconds == nil {
		t.Error("the Job needs a backoffLimit and an activeDeadlineSeconds")
	}
	wantLockedDown(t, "Job", pod, c)
	wantRealSettings(t, "Job", c, m, mustAppSettings(t))
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	if sel.Matches(labels.Set(j.Spec.Template.Labels)) {
		t.Error("the Deployment's selector matches the migration Job's pods")
	}
}

func TestKubernetesServiceIngressAndBudget(t *testing.T) {
	m := mustLoadManifests(t)
	d, svc, ing, pdb, job := m.deployments[0], m.services[0], m.ingresses[0], m.pdbs[0], m.jobs[0]
	podLabels := labels.Set(d.Spec.Template.Labels)

	if len(svc.Spec.Selector) == 0 || !labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) {
		t.Errorf("Service selector %v does not match the Deployment's pods %v", svc.Spec.Selector, podLabels)
	}
	if labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(job.Spec.Template.Labels)) {
		t.Error("the Service would send traffic to the migration Job's pods")
	}
	if len(svc.Spec.Ports) != 1 {
		t.Fatalf("Service ports = %+v, want one", svc.Spec.Ports)
	}
	if got := containerPort(d.Spec.Template.Spec.Containers[0], svc.Spec.Ports[0].TargetPort); got != 8080 {
		t.Errorf("Service targetPort %s is %d, want 8080", svc.Spec.Ports[0].TargetPort.String(), got)
	}

	for _, a := range []string{"proxy-read-timeout", "proxy-send-timeout"} {
		v := ing.Annotations["nginx.ingress.kubernetes.io/"+a]
		if n, err := strconv.Atoi(v); err != nil || n < 3600 {
			t.Errorf("Ingress annotation %s = %q, want at least 3600 (websockets on /api/v1/live)", a, v)
		}
	}
	if len(ing.Spec.TLS) == 0 {
		t.Error("the Ingress has no TLS: the app's cookies are Secure")
	}
	for _, r := range ing.Spec.Rules {
		if r.HTTP == nil {
			t.Errorf("rule %q has no http paths", r.Host)
			continue
		}
		for _, p := range r.HTTP.Paths {
			b := p.Backend.Service
			if b == nil || b.Name != svc.Name {
				t.Errorf("Ingress path %s goes to %+v, want Service %s", p.Path, p.Backend, svc.Name)
				continue
			}
			if b.Port.Name != svc.Spec.Ports[0].Name && b.Port.Number != svc.Spec.Ports[0].Port {
				t.Errorf("Ingress path %s names port %+v, which Service %s lacks", p.Path, b.Port, svc.Name)
			}
		}
	}

	sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if err != nil || !sel.Matches(podLabels) {
		t.Errorf("the PodDisruptionBudget's selector does not match the Deployment's pods (%v)", err)
	}
	if mi := pdb.Spec.MinAvailable; mi == nil || mi.Type != intstr.Int || mi.IntVal < 1 || mi.IntVal >= *d.Spec.Replicas {
		t.Errorf("PodDisruptionBudget minAvailable %v: want from 1 to replicas-1 so drains can proceed", mi)
	}
}
