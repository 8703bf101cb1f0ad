package loadgen

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of utime and stime in /proc/<pid>/stat. USER_HZ is 100 on
// every Linux architecture Huddle runs on; reading it needs sysconf (cgo).
const clockTick = 10 * time.Millisecond

// ProcessCPU returns the user plus system CPU time the process pid has used so far.
func ProcessCPU(pid int) (time.Duration, error) {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, fmt.Errorf("loadgen: cpu of pid %d: %w", pid, err)
	}
	_, cpu, err := parseStat(raw)
	if err != nil {
		return 0, fmt.Errorf("loadgen: cpu of pid %d: %w", pid, err)
	}
	return cpu, nil
}

// PostgresCPU sums the CPU time of every process whose command name starts with
// "postgres" (the postmaster and its backends), and says how many there were. A
// backend that exits between two readings takes its time with it, so readings are
// only comparable while the connection pools stay open.
func PostgresCPU() (time.Duration, int, error) {
	return postgresCPU("")
}

// BackendCPU is PostgresCPU for the backends serving database db only: a backend's
// process title (its cmdline) reads "postgres: <cluster>: <user> <db> <client> ...".
// Background processes (WAL writer, checkpointer, autovacuum) are left out.
func BackendCPU(db string) (time.Duration, int, error) {
	if db == "" {
		return 0, 0, errors.New("loadgen: no database name")
	}
	return postgresCPU(db)
}

func postgresCPU(db string) (time.Duration, int, error) {
	paths, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		return 0, 0, err
	}
	var total time.Duration
	n := 0
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			continue // the process ended while we looked
		}
		comm, cpu, err := parseStat(raw)
		if err != nil || !strings.HasPrefix(comm, "postgres") {
			continue
		}
		if db != "" {
			title, err := os.ReadFile(filepath.Join(filepath.Dir(p), "cmdline"))
			if err != nil || !isBackendOf(string(title), db) {
				continue
			}
		}
		total += cpu
		n++
	}
	if n == 0 {
		return 0, 0, errors.New("loadgen: no postgres processes visible in /proc")
	}
	return total, n, nil
}

// parseStat reads comm and utime+stime from a /proc/<pid>/stat line. comm is in
// parentheses and may itself hold spaces and parentheses, so fields are counted
// from the last ')'.
func parseStat(raw []byte) (string, time.Duration, error) {
	open, end := bytes.IndexByte(raw, '('), bytes.LastIndexByte(raw, ')')
	if open < 0 || end < open {
		return "", 0, errors.New("malformed stat line")
	}
	comm := string(raw[open+1 : end])
	// After ") ": state(3) ppid(4) ... utime(14) stime(15), numbered as in proc(5).
	fields := strings.Fields(string(raw[end+1:]))
	const utime, stime = 14 - 3, 15 - 3
	if len(fields) <= stime {
		return "", 0, errors.New("short stat line")
	}
	u, err1 := strconv.ParseInt(fields[utime], 10, 64)
	s, err2 := strconv.ParseInt(fields[stime], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return "", 0, err
	}
	return comm, time.Duration(u+s) * clockTick, nil
}

// isBackendOf reports whether a postgres process title belongs to a backend connected
// to database db ("postgres: 15/main: huddle huddle 127.0.0.1(5432) idle").
// Without a cluster_name the title has no "<cluster>:" part ("postgres: huddle
// huddle 127.0.0.1(5432) idle").
func isBackendOf(title, db string) bool {
	title = strings.TrimRight(title, "\x00")
	rest, ok := strings.CutPrefix(title, "postgres: ")
	if !ok {
		return false
	}
	fields := strings.Fields(rest)
	if len(fields) > 0 && strings.HasSuffix(fields[0], ":") {
		fields = fields[1:] // the cluster's name
	}
	// A backend's title goes on with its client and activity; a background process's
	// ("walwriter", "autovacuum launcher") has no user and database.
	return len(fields) >= 3 && fields[1] == db
}
