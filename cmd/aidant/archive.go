package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aidant/aidant/models"
)

// runExport writes an operation as a versioned JSON archive, and its outcomes as CSV.
func runExport(ctx context.Context, env Env, args []string) error {
	var id int64
	var out, csvOut string
	cfg, err := parse(env, "export", args, false, func(fs *flag.FlagSet) {
		fs.Int64Var(&id, "operation", 0, "id of the operation to archive")
		fs.StringVar(&out, "out", "-", "archive file (- for standard output)")
		fs.StringVar(&csvOut, "csv", "", "also write the outcomes as CSV to this file")
	})
	if err != nil {
		return err
	}
	if id <= 0 {
		return errors.New("--operation is required")
	}
	store, err := openStore(ctx, cfg, false)
	if err != nil {
		return err
	}
	defer store.Close()
	a, err := store.ExportOperation(system(ctx), id)
	if err != nil {
		return describeErr(err)
	}
	if err := writeFile(env, out, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", " ")
		return enc.Encode(a)
	}); err != nil {
		return err
	}
	if csvOut != "" {
		if err := writeFile(env, csvOut, func(w io.Writer) error { return writeOutcomesCSV(w, a.Outcomes) }); err != nil {
			return err
		}
	}
	fmt.Fprintf(env.Stderr, "exported operation %d: %d locations, %d shifts, %d outcomes, %d events\n",
		id, len(a.Locations), len(a.Shifts), len(a.Outcomes), len(a.Events))
	return nil
}

func writeFile(env Env, path string, write func(io.Writer) error) error {
	if path == "-" {
		return write(env.Stdout)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600) // #nosec G304 -- the operator names the output file on the command line
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		_ = f.Close() // the write's error is the one worth reporting
		return err
	}
	return f.Close()
}

// writeOutcomesCSV writes one row per outcome. It holds personal data: keep it with the force.
func writeOutcomesCSV(w io.Writer, outcomes []models.Outcome) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"id", "operation_id", "shift_id", "location_id", "occurred_at", "measure", "count", "indicators",
		"leaflet_language", "partner_agency", "vehicle_reg", "notes", "created_by", "created_at", "version"})
	for _, o := range outcomes {
		inds := make([]string, len(o.Indicators))
		for i, x := range o.Indicators {
			inds[i] = string(x)
		}
		_ = cw.Write([]string{strconv.FormatInt(o.ID, 10), strconv.FormatInt(o.OperationID, 10), strconv.FormatInt(o.ShiftID, 10),
			strconv.FormatInt(o.LocationID, 10), o.OccurredAt.Format(time.RFC3339), string(o.Measure), strconv.FormatInt(o.Count, 10),
			strings.Join(inds, ";"), o.LeafletLanguage, string(o.PartnerAgency), csvCell(o.VehicleReg), csvCell(o.Notes),
			o.CreatedBy, o.CreatedAt.Format(time.RFC3339Nano), strconv.FormatInt(o.Version, 10)})
	}
	cw.Flush()
	return cw.Error()
}

// csvCell stops a spreadsheet from reading free text as a formula.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// runImport restores an archive into an empty database.
func runImport(ctx context.Context, env Env, args []string) error {
	var in string
	cfg, err := parse(env, "import", args, false, func(fs *flag.FlagSet) {
		fs.StringVar(&in, "in", "-", "archive file (- for standard input)")
	})
	if err != nil {
		return err
	}
	var r io.Reader = env.Stdin
	if in != "-" {
		f, err := os.Open(in) // #nosec G304 -- the operator names the input file on the command line
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	var a models.Archive
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return fmt.Errorf("reading the archive: %w", err)
	}
	store, err := openStore(ctx, cfg, cfg.Migrate)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.ImportArchive(system(ctx), &a); err != nil {
		return describeErr(err)
	}
	fmt.Fprintf(env.Stdout, "imported operation %d (%s): %d locations, %d shifts, %d outcomes, %d events\n",
		a.Operation.ID, a.Force.Code, len(a.Locations), len(a.Shifts), len(a.Outcomes), len(a.Events))
	return nil
}
