package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/huddle-lti/huddle/guard"
)

// maxScan bounds what scan reads: exports are checked a file at a time.
const maxScan = 64 << 20

// runScan prints each patient-identifier finding in standard input as a JSON line: kind (nhs_number,
// date_of_birth, postcode, phone, email, hospital_number, titled_name or address), start, end and text.
// Exit status: 0 clean, 1 findings, 2 error. It calls the same guard.Scan the web
// forms do, so it agrees with them exactly.
func runScan(_ context.Context, e env, args []string) error {
	fs := newFlags(e, "scan", "Read text on standard input and print each patient identifier found as a JSON line\n"+
		"(kind, start, end, text; offsets count Unicode characters). Exit status 0 when clean, 1 when\n"+
		"anything is found, 2 on error.", 0)
	if err := fs.Parse(args); err != nil {
		return &exitError{2, err}
	}
	text, err := io.ReadAll(io.LimitReader(e.stdin, maxScan+1))
	if err != nil {
		return &exitError{2, fmt.Errorf("read standard input: %w", err)}
	}
	if len(text) > maxScan {
		return &exitError{2, errors.New("input is larger than 64 MiB; split it")}
	}
	findings := guard.Scan(string(text))
	if err := guard.WriteJSONLines(e.stdout, findings); err != nil {
		return &exitError{2, err}
	}
	if len(findings) > 0 {
		return &exitError{1, fmt.Errorf("%d possible patient identifier(s) found", len(findings))}
	}
	return nil
}
