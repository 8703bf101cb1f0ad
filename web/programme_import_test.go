package web_test

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// upload posts a CSV as the import form does.
func upload(t *testing.T, b *signedIn, path, name string, content []byte) response {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	require.NoError(t, w.WriteField("csrf", b.csrf))
	if name != "" {
		f, err := w.CreateFormFile("file", name)
		require.NoError(t, err)
		_, err = f.Write(content)
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	return b.send(http.MethodPost, path, w.FormDataContentType(), &buf)
}

func TestProgrammeImport(t *testing.T) {
	t.Parallel()
	pe := newProgrammeEnv(t)
	path := pe.edu.activity + "/programme/import"

	tmpl := pe.edu.get(path + "/template.csv")
	require.Equal(t, http.StatusOK, tmpl.code)
	require.Equal(t, "text/csv; charset=utf-8", tmpl.header.Get("Content-Type"))
	require.True(t, strings.HasPrefix(tmpl.body, "title,date,start,end,"))
	require.Equal(t, http.StatusForbidden, pe.learner.get(pe.learner.activity+"/programme/import/template.csv").code)

	for _, tc := range []struct {
		name     string
		file     string
		content  []byte
		code     int
		contains []string
	}{
		{"no file", "", nil, http.StatusUnprocessableEntity, []string{"Choose a CSV file to import."}},
		{"not a CSV", "photo.png", []byte("\x89PNG\r\n\x1a\n\x00\x00"), http.StatusUnprocessableEntity, []string{"Nothing was imported", "not a CSV file"}},
		{"bad rows", "term.csv", []byte("title,date,start,end,grades\nSepsis,30/03/2030,09:00,10:00,F1\nAKI,31/03/2030,14:00,13:00,\nFalls,01/04/2030,09:00,10:00,FY3\n"),
			http.StatusUnprocessableEntity, []string{"<td>3</td><td>end</td><td>The session must end after it starts.</td>",
				"<td>4</td><td>grades</td><td>&#34;FY3&#34; is not a grade"}},
		{"over 512 KB", "big.csv", bytes.Repeat([]byte("Sepsis,30/03/2030,09:00,10:00\n"), 600<<10/30), http.StatusUnprocessableEntity,
			[]string{"The file is larger than 512 KB"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := upload(t, pe.edu, path, tc.file, tc.content)
			expectPage(t, r, tc.code, tc.contains...)
			require.Zero(t, pe.sessions(t), "nothing imported")
		})
	}

	t.Run("10 MB", func(t *testing.T) {
		// Over the server's 1 MB body limit: the import's route alone reads up to
		// 16 MB (limits.go), so Huddle's own page says why, not a network error.
		for _, tc := range []struct{ name, file string }{{"a CSV", "huge.csv"}, {"not a CSV", "scan.png"}} {
			t.Run(tc.name, func(t *testing.T) {
				r := upload(t, pe.edu, path, tc.file, bytes.Repeat([]byte("Sepsis,30/03/2030,09:00,10:00\n"), 10<<20/30+1))
				expectPage(t, r, http.StatusUnprocessableEntity, "Nothing was imported", "The file is larger than 512 KB")
				require.Zero(t, pe.sessions(t))
			})
		}
	})

	addr := serveOnListener(t, pe) // a Server serves once
	t.Run("10 MB, on a real connection", func(t *testing.T) {
		resp, err := postLarge(t, pe, "http://"+addr+path, 10<<20)
		require.NoError(t, err, "the server reads the whole upload and answers")
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, string(body))
		require.Contains(t, string(body), "The file is larger than 512 KB")
		require.Zero(t, pe.sessions(t))
	})

	t.Run("over 16 MB, on a real connection", func(t *testing.T) {
		resp, err := postLarge(t, pe, "http://"+addr+path, 20<<20)
		// fasthttp answers 413 and closes the connection while the client is still
		// sending, so the client sees either the answer or the reset; either way the
		// page's script (programme_import.js) has said why before the upload began.
		if err == nil {
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, string(body))
		} else {
			require.Truef(t, strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe"),
				"the server closed the connection: %v", err)
		}
		require.Zero(t, pe.sessions(t))
		form := pe.edu.get(path)
		expectPage(t, form, http.StatusOK, `data-max-bytes="524288"`, `id="file-too-large"`, "/static/programme_import.js")
	})

	t.Run("every other route keeps the 1 MB limit", func(t *testing.T) {
		big := url.Values{"csrf": {pe.edu.csrf}, "title": {strings.Repeat("x", 2<<20)}}.Encode()
		for _, p := range []string{pe.edu.activity + "/programme/sessions", pe.edu.activity + "/programme/import/template.csv",
			pe.edu.activity + "/programme/import/", pe.edu.activity + "/programme/importx", path + "?x=/programme/import"} {
			req, err := http.NewRequest(http.MethodPost, "http://"+addr+p, strings.NewReader(big))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range pe.edu.cookies {
				req.AddCookie(&http.Cookie{Name: k, Value: v})
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil { // closed while sending: refused before any handler
				require.Truef(t, strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe"), "%s: %v", p, err)
				continue
			}
			resp.Body.Close()
			if strings.Contains(p, "?") { // the import's own path, whatever its query: read, then refused as no file
				require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, p)
				continue
			}
			require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, p)
		}
		require.Zero(t, pe.sessions(t))
	})

	r := upload(t, pe.edu, path, "term.csv", []byte(tmpl.body))
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	require.Equal(t, 2, pe.sessions(t))
	expectPage(t, pe.edu.get(r.location), http.StatusOK, "2 sessions added.")
}

// serveOnListener serves pe's app on a real TCP listener until the test ends (once
// per test: a Server serves once).
func serveOnListener(t *testing.T, pe *programmeEnv) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- pe.srv.Serve(ctx, ln, time.Second) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
	return ln.Addr().String()
}

// postLarge posts a CSV of about size bytes to the import form as the educator.
func postLarge(t *testing.T, pe *programmeEnv, target string, size int) (*http.Response, error) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	require.NoError(t, w.WriteField("csrf", pe.edu.csrf))
	f, err := w.CreateFormFile("file", "huge.csv")
	require.NoError(t, err)
	_, err = f.Write(bytes.Repeat([]byte("Sepsis,30/03/2030,09:00,10:00\n"), size/30))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	req, err := http.NewRequest(http.MethodPost, target, &buf)
	require.NoError(t, err)
	req.Header.Set("Content-Type", w.FormDataContentType())
	for k, v := range pe.edu.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	return http.DefaultClient.Do(req)
}
