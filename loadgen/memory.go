package loadgen

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// ProcessRSS returns the resident set size of process pid in bytes (VmRSS in
// /proc/<pid>/status).
func ProcessRSS(pid int) (int64, error) {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, fmt.Errorf("loadgen: rss of pid %d: %w", pid, err)
	}
	rss, err := parseVmRSS(raw)
	if err != nil {
		return 0, fmt.Errorf("loadgen: rss of pid %d: %w", pid, err)
	}
	return rss, nil
}

// parseVmRSS reads the "VmRSS:    123456 kB" line of a /proc/<pid>/status file.
func parseVmRSS(status []byte) (int64, error) {
	for line := range bytes.Lines(status) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		fields := bytes.Fields(rest)
		if len(fields) != 2 || string(fields[1]) != "kB" {
			return 0, fmt.Errorf("malformed VmRSS line %q", bytes.TrimSpace(line))
		}
		kb, err := strconv.ParseInt(string(fields[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("malformed VmRSS line %q", bytes.TrimSpace(line))
		}
		return kb << 10, nil
	}
	return 0, errors.New("no VmRSS line (a kernel thread, or a process that has exited)")
}

// rssWatch reads Huddle's RSS at the points the report names and samples it in
// between for the peak. Without a reader it reports nothing.
type rssWatch struct {
	readRSS func() (int64, error)
	mu      sync.Mutex
	max     int64
	err     error
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

func newRSSWatch(read func() (int64, error)) *rssWatch {
	return &rssWatch{readRSS: read}
}

// read returns the RSS now, or 0 if it cannot be read; the first error is kept for peak.
func (w *rssWatch) read() int64 {
	if w.readRSS == nil {
		return 0
	}
	rss, err := w.readRSS()
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		if w.err == nil {
			w.err = err
		}
		return 0
	}
	w.max = max(w.max, rss)
	return rss
}

// sample reads every interval until the returned stop is called (more than once is fine).
func (w *rssWatch) sample(interval time.Duration) (stop func()) {
	if w.readRSS == nil {
		return func() {}
	}
	w.stop, w.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(w.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
				w.read()
			}
		}
	}()
	return func() {
		w.once.Do(func() { close(w.stop) })
		<-w.done
	}
}

// peak is the highest RSS seen, and why RSS is missing from the report if it is.
func (w *rssWatch) peak() (int64, error) {
	if w.readRSS == nil {
		return 0, errors.New("no way to read Huddle's memory was given")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.max, w.err
}

// RSSWatch reads a process's resident memory now and samples it for its peak.
type RSSWatch struct{ w *rssWatch }

// WatchRSS watches process pid; with pid 0 or less it reads nothing and Peak says so.
func WatchRSS(pid int) RSSWatch {
	if pid <= 0 {
		return RSSWatch{newRSSWatch(nil)}
	}
	return RSSWatch{newRSSWatch(func() (int64, error) { return ProcessRSS(pid) })}
}

// Now is the RSS in bytes now, or 0 when it cannot be read.
func (r RSSWatch) Now() int64 { return r.w.read() }

// Sample reads every interval until the returned stop is called.
func (r RSSWatch) Sample(interval time.Duration) (stop func()) { return r.w.sample(interval) }

// Peak is the highest RSS seen by Now and Sample.
func (r RSSWatch) Peak() (int64, error) { return r.w.peak() }
