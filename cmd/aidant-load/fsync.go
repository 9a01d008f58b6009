package main

import (
	"context"
	"os"
	"syscall"
	"time"
)

// diskStall is the fdatasync time past which the probe counts a stall: a commit waiting that
// long is past every latency target of a run.
const diskStall = 50 * time.Millisecond

// fsyncEvery is how often the probe syncs: often enough to see a stall of a tenth of a
// second, seldom enough to add little to the disk's load.
const fsyncEvery = 10 * time.Millisecond

// FsyncReport is what the disk probe measured while the writes ran: how long an 8 KiB write
// and fdatasync took on the disk the database commits to. A commit waits for the same flush,
// so a run whose writes all stall at one moment shows here whether the disk stalled then.
type FsyncReport struct {
	Dir    string `json:"dir"`
	Syncs  Stats  `json:"syncs_ms"`
	Stalls int    `json:"stalls"` // syncs that took diskStall or longer
}

// fsyncProbe writes a page of a file in dir, synchronously, every fsyncEvery until stop is
// called, which removes the file and returns the report. It starts at once.
func fsyncProbe(dir string) (stop func() (*FsyncReport, error), err error) {
	tmp, err := os.CreateTemp(dir, "aidant-load-fsync-*")
	if err != nil {
		return nil, err
	}
	_ = tmp.Close()
	// O_DSYNC: each write returns once its data is on the disk, as fdatasync, Postgres's way
	// of flushing its WAL on Linux, would have it.
	// #nosec G304 -- the file was just created by CreateTemp in the operator's directory
	f, err := os.OpenFile(tmp.Name(), os.O_WRONLY|syscall.O_DSYNC, 0)
	if err != nil {
		_ = os.Remove(tmp.Name())
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		took []time.Duration
		err  error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		page := make([]byte, 8<<10)
		t := time.NewTicker(fsyncEvery)
		defer t.Stop()
		for {
			began := time.Now()
			if _, r.err = f.WriteAt(page, 0); r.err != nil {
				done <- r
				return
			}
			r.took = append(r.took, time.Since(began))
			select {
			case <-ctx.Done():
				done <- r
				return
			case <-t.C:
			}
		}
	}()
	return func() (*FsyncReport, error) {
		cancel()
		r := <-done
		_ = f.Close()
		_ = os.Remove(f.Name())
		if r.err != nil {
			return nil, r.err
		}
		rep := &FsyncReport{Dir: dir}
		for _, d := range r.took {
			if d >= diskStall {
				rep.Stalls++
			}
		}
		rep.Syncs = summarise(r.took)
		return rep, nil
	}, nil
}
