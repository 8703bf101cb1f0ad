package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/dbtest"
	"github.com/huddle-lti/huddle/lti"
	"github.com/huddle-lti/huddle/moodle"
	"github.com/huddle-lti/huddle/seal"
)

// TestSecretRotate: a database with a tool key and a Moodle token, sealed with the old
// HUDDLE_SECRET_KEY, is moved to a new one; afterwards only the new key opens them, a
// second run changes nothing, and the new key is never printed.
func TestSecretRotate(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := dbtest.Migrated(t)
	// Development: the fake Moodle is plain http on 127.0.0.1, which production refuses.
	vars := map[string]string{"HUDDLE_DATABASE_URL": url, "HUDDLE_SECRET_KEY": goodKey, "HUDDLE_ENV": "development"}
	var printed strings.Builder // everything any command printed, to look for the key
	huddle := func(stdin string, args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), env{getenv: envOf(vars), stdin: strings.NewReader(stdin), stdout: &stdout, stderr: &stderr}, args)
		printed.WriteString(stdout.String() + stderr.String())
		return code, stdout.String(), stderr.String()
	}

	const wsToken = "0e24a01229c61e09e5b5d53971cd07b9" // the one fakeMoodleWS accepts
	site := fakeMoodleWS(t)
	code, _, errOut := huddle("", "keys", "rotate")
	require.Equal(t, 0, code, errOut)
	code, _, errOut = huddle("", "platform", "add", "--issuer", site.URL, "--client-id", "c", "--auth-url", site.URL+"/a",
		"--token-url", site.URL+"/t", "--jwks-url", site.URL+"/j", "--deployment-id", "1")
	require.Equal(t, 0, code, errOut)
	code, _, errOut = huddle("", "platform", "set-moodle", "1", "--url", site.URL, "--token", wsToken)
	require.Equal(t, 0, code, errOut)

	pool := dbtest.Pool(t, url)
	oldSealer := sealerFor(t, goodKey)
	newKey := randomKey(t)
	newSealer := sealerFor(t, newKey)
	// opens reports whether sealer opens the tool key (and it signs) and the Moodle
	// token (and Moodle accepts it), each with a fresh Keyring and Connections so
	// nothing cached answers for the database.
	opens := func(sealer *seal.Sealer) (toolKey, token error) {
		keys := lti.NewKeyring(pool, sealer, nil, 0)
		key, err := keys.SigningKey(ctx)
		if err == nil {
			err = signsAndVerifies(t, keys, key)
		}
		conns := moodle.NewConnections(pool, sealer, moodle.BaseConfig(http.DefaultClient, "Huddle/test"), nil)
		client, err2 := conns.ClientFor(ctx, 1)
		if err2 == nil {
			_, err2 = client.SiteInfo(ctx)
		}
		return err, err2
	}
	keyErr, tokenErr := opens(oldSealer)
	require.NoError(t, keyErr)
	require.NoError(t, tokenErr)
	before := sealedValues(t, pool)

	code, out, errOut := huddle(newKey+"\n", "secret", "rotate", "--dry-run")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "Dry run")
	require.Regexp(t, `tool signing keys\s+1\n`, out)
	require.Regexp(t, `Moodle web service tokens\s+1\n`, out)
	require.Equal(t, before, sealedValues(t, pool), "a dry run changes nothing")

	code, out, errOut = huddle(newKey+"\n", "secret", "rotate")
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `tool signing keys\s+1\n`, out)
	require.Regexp(t, `Moodle web service tokens\s+1\n`, out)
	require.Contains(t, out, "set HUDDLE_SECRET_KEY to the new key on every Huddle instance")
	require.Contains(t, out, "restart")
	after := sealedValues(t, pool)
	for k := range before {
		require.NotEqual(t, before[k], after[k], k)
	}

	keyErr, tokenErr = opens(newSealer)
	require.NoError(t, keyErr, "the new key opens the tool key, which signs")
	require.NoError(t, tokenErr, "the new key opens the Moodle token, which Moodle accepts")
	keyErr, tokenErr = opens(oldSealer)
	require.ErrorIs(t, keyErr, seal.ErrOpen, "the old key no longer opens the tool key")
	require.ErrorIs(t, tokenErr, seal.ErrOpen, "the old key no longer opens the Moodle token")

	// The same command again, from a file this time: the values no longer open under
	// HUDDLE_SECRET_KEY (still the old key), so it fails and changes nothing.
	keyFile := filepath.Join(t.TempDir(), "new-key")
	require.NoError(t, os.WriteFile(keyFile, []byte(newKey+"\n"), 0o600))
	code, out, errOut = huddle("", "secret", "rotate", "--new-key-file", keyFile)
	require.Equal(t, 1, code, out)
	require.Contains(t, errOut, "nothing was changed")
	require.Contains(t, errOut, "tool_keys row id=1")
	require.Contains(t, errOut, "set HUDDLE_SECRET_KEY to the new key instead of rotating again")
	require.Equal(t, after, sealedValues(t, pool))

	// With HUDDLE_SECRET_KEY set to the new key, everything works; a dry run towards
	// any throwaway key is the check docs/operations.md suggests after the restart.
	vars["HUDDLE_SECRET_KEY"] = newKey
	code, out, errOut = huddle(randomKey(t), "secret", "rotate", "--dry-run")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "opens every sealed value")
	code, _, errOut = huddle(newKey, "secret", "rotate")
	require.Equal(t, 2, code, "the new key is now also the old one")
	require.Contains(t, errOut, "the same as HUDDLE_SECRET_KEY")
	code, _, errOut = huddle("", "keys", "rotate")
	require.Equal(t, 0, code, errOut)

	require.NotContains(t, printed.String(), newKey, "the new key is never printed")
	require.NotContains(t, printed.String(), goodKey, "nor the old one")
}

// TestSecretRotateIsAllOrNothing: the tool key opens and is re-sealed, then the
// Moodle token, sealed with another key, does not: the tool key's change is undone
// with it.
func TestSecretRotateIsAllOrNothing(t *testing.T) {
	t.Parallel()
	url := dbtest.Migrated(t)
	huddle := func(secretKey, stdin string, args ...string) (int, string, string) {
		vars := map[string]string{"HUDDLE_DATABASE_URL": url, "HUDDLE_SECRET_KEY": secretKey, "HUDDLE_ENV": "development"}
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), env{getenv: envOf(vars), stdin: strings.NewReader(stdin), stdout: &stdout, stderr: &stderr}, args)
		return code, stdout.String(), stderr.String()
	}
	site := fakeMoodleWS(t)
	code, _, errOut := huddle(goodKey, "", "keys", "rotate")
	require.Equal(t, 0, code, errOut)
	code, _, errOut = huddle(goodKey, "", "platform", "add", "--issuer", site.URL, "--client-id", "c", "--auth-url", site.URL+"/a",
		"--token-url", site.URL+"/t", "--jwks-url", site.URL+"/j", "--deployment-id", "1")
	require.Equal(t, 0, code, errOut)
	code, _, errOut = huddle(otherKey, "", "platform", "set-moodle", "1", "--url", site.URL, "--token", "0e24a01229c61e09e5b5d53971cd07b9")
	require.Equal(t, 0, code, errOut)
	pool := dbtest.Pool(t, url)
	before := sealedValues(t, pool)

	for _, args := range [][]string{{"secret", "rotate", "--dry-run"}, {"secret", "rotate"}} {
		code, out, errOut := huddle(goodKey, randomKey(t), args...)
		require.Equal(t, 1, code, out)
		require.Contains(t, errOut, "nothing was changed")
		require.Contains(t, errOut, "moodle_connections row platform_id=1")
		require.Empty(t, out)
		require.Equal(t, before, sealedValues(t, pool), "the tool key, re-sealed first, is as it was")
	}
}

// TestSecretRotateWithAnInstanceRunning is what docs/operations.md says of instances
// during the switch. One that keeps running with the old key carries on with what it
// already holds in memory (the parsed tool key, the platform's access token); one
// that starts with the old key after the rotation cannot sign, so its scores wait,
// retried, with an error naming HUDDLE_SECRET_KEY; one started with the new key works.
func TestSecretRotateWithAnInstanceRunning(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dbURL := dbtest.Migrated(t)
	f := &fleet{}
	m := newMoodle(t, f)
	// Development: the platform is plain http on 127.0.0.1, which production refuses.
	oldVars := map[string]string{"HUDDLE_DATABASE_URL": dbURL, "HUDDLE_SECRET_KEY": goodKey, "HUDDLE_BASE_URL": frontURL,
		"HUDDLE_ENV": "development", "HUDDLE_DEV_PLATFORM_ADDR": "off", "HUDDLE_LOG_FORMAT": "json", "HUDDLE_SHUTDOWN_TIMEOUT": "5s"}
	m.register(t, oldVars)
	learners := m.learners()
	require.NotEmpty(t, learners)
	lena := learners[0]
	reflectionLog := link("1", "reflection_log") // graded: a submitted reflection earns full marks
	db := dbtest.Pool(t, dbURL)
	// score waits until the newest score of the learner with subject is delivered (and
	// its job done) or has failed once, and says which, with the error. The test waits
	// out a grade sync job still "running" after the delivery, so that what it checks
	// next starts from a finished queue.
	score := func(subject string) (delivered bool, lastErr string) {
		t.Helper()
		require.Eventually(t, func() bool {
			err := db.QueryRow(ctx, `
SELECT coalesce(s.synced_scored_at >= s.scored_at, false)
       AND NOT EXISTS (SELECT 1 FROM river_job WHERE kind IN ('grade_sync', 'grade_sync_dispatch') AND state = 'running'),
       s.last_error
FROM scores s JOIN users u ON u.id = s.user_id WHERE u.subject = $1`, subject).Scan(&delivered, &lastErr)
			return err == nil && (delivered || lastErr != "")
		}, 30*time.Second, 20*time.Millisecond, "learner %s's score was never tried", subject)
		return delivered, lastErr
	}
	serve := func(vars map[string]string) (*served, func()) {
		s := serveInProcess(t, vars)
		f.add(s.base)
		return s, func() {
			f.remove(s.base)
			require.Zero(t, s.stop(), s.log)
		}
	}

	// Before: an instance with the old key delivers Lena's score, signing for an
	// access token with the tool key.
	running, stopRunning := serve(oldVars)
	lenaB := newBrowser(f)
	logPath, err := lenaB.launch(ctx, m, lena, reflectionLog)
	require.NoError(t, err)
	submitReflection(t, ctx, lenaB, logPath, "Night shift handover", "The handover missed a deteriorating patient.")
	delivered, lastErr := score(lena.Subject)
	require.True(t, delivered, lastErr)

	newKey := randomKey(t)
	var stdout, stderr bytes.Buffer
	code := run(ctx, env{getenv: envOf(oldVars), stdin: strings.NewReader(newKey), stdout: &stdout, stderr: &stderr},
		[]string{"secret", "rotate"})
	require.Equal(t, 0, code, stderr.String())
	require.Regexp(t, `tool signing keys\s+1\n`, stdout.String())

	// The running instance still has the tool key it parsed and the access token it
	// was given, so it carries on until it is restarted.
	submitReflection(t, ctx, lenaB, logPath, "Second night", "A calmer night: the new handover sheet helped.")
	delivered, lastErr = score(lena.Subject)
	require.True(t, delivered, "a running instance keeps what it holds in memory: %s", lastErr)
	require.NotContains(t, running.log.String(), "was HUDDLE_SECRET_KEY changed?")
	stopRunning()

	// An instance started with the old key after the rotation cannot open the tool
	// key, so it refuses to start and says why.
	staleVars := maps.Clone(oldVars)
	staleVars["HUDDLE_ADDR"] = freeAddr(t)
	var staleOut bytes.Buffer
	code = run(ctx, env{getenv: envOf(staleVars), stdin: strings.NewReader(""), stdout: &staleOut, stderr: &staleOut}, []string{"serve"})
	require.NotZero(t, code, "huddle serve started with the old key:\n%s", staleOut.String())
	require.Contains(t, staleOut.String(), "does not open with this HUDDLE_SECRET_KEY")

	// With the new key everything works again.
	newVars := maps.Clone(oldVars)
	newVars["HUDDLE_SECRET_KEY"] = newKey
	_, stopNew := serve(newVars)
	defer stopNew()
	logPath, err = lenaB.launch(ctx, m, lena, reflectionLog)
	require.NoError(t, err)
	submitReflection(t, ctx, lenaB, logPath, "Third night", "Handover by SBAR, every bed.")
	delivered, lastErr = score(lena.Subject)
	require.True(t, delivered, lastErr)
}

// TestSecretRotateRefusesABadNewKey: a bad new key stops the command with status 2 and
// a message that says what is wrong without echoing the input, before the database is
// even opened (its URL here answers nothing).
func TestSecretRotateRefusesABadNewKey(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"HUDDLE_DATABASE_URL": "postgres://huddle@127.0.0.1:1/none", "HUDDLE_SECRET_KEY": goodKey}
	short := base64.StdEncoding.EncodeToString([]byte("sixteen bytes!!!"))
	oldBytes, err := base64.StdEncoding.DecodeString(goodKey)
	require.NoError(t, err)
	tooLong := strings.Repeat("QUJD", 2000)
	keyFile := filepath.Join(t.TempDir(), "short-key")
	require.NoError(t, os.WriteFile(keyFile, []byte(short), 0o600))

	tests := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"short", short, nil, "the new key decodes to 16 bytes; it needs at least 32"},
		{"short, from a file", "", []string{"--new-key-file", keyFile}, "the new key decodes to 16 bytes; it needs at least 32"},
		{"not base64", "correct horse battery staple correct horse battery", nil, "the new key is not valid base64"},
		{"two keys", randomKey(t) + "\n" + randomKey(t), nil, "the new key is not valid base64"},
		{"same as the old", goodKey + "\n", nil, "the new key is the same as HUDDLE_SECRET_KEY"},
		{"same as the old, other encoding", base64.RawURLEncoding.EncodeToString(oldBytes), nil, "the new key is the same as HUDDLE_SECRET_KEY"},
		{"none", "", nil, "no new key given"},
		{"too long", tooLong, nil, "the new key is longer than 4096 bytes"},
		{"no such file", "", []string{"--new-key-file", filepath.Join(t.TempDir(), "missing")}, "--new-key-file: open "},
		{"as an argument", "", []string{randomKey(t)}, "the new key is not taken as an argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			args := append([]string{"secret", "rotate"}, tt.args...)
			code := run(context.Background(), env{getenv: envOf(vars), stdin: strings.NewReader(tt.stdin), stdout: &stdout, stderr: &stderr}, args)
			require.Equal(t, 2, code, stderr.String())
			require.Contains(t, stderr.String(), tt.want)
			require.Empty(t, stdout.String())
			lastLine := stderr.String()[strings.LastIndex(strings.TrimSuffix(stderr.String(), "\n"), "\n")+1:]
			require.True(t, strings.HasPrefix(lastLine, "huddle secret: "), "a plain one-line message: %q", stderr.String())
			for _, secret := range append(strings.Fields(tt.stdin), tt.args...) {
				if len(secret) >= 16 && !strings.HasPrefix(secret, "-") && !strings.HasPrefix(secret, "/") {
					require.NotContains(t, stderr.String(), secret, "the input is never echoed")
				}
			}
		})
	}
}

func TestSecretRotateHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"secret", "rotate", "--help"}, {"secret", "--help"}} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), env{getenv: envOf(nil), stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr}, args)
		require.Equal(t, 0, code, stderr.String())
		require.Contains(t, stdout.String(), "never taken as a\ncommand-line argument, which other users see in ps and which the shell keeps in its\nhistory")
		require.Contains(t, stdout.String(), "Rotating HUDDLE_SECRET_KEY")
	}
	var stdout, stderr bytes.Buffer
	require.Equal(t, 2, run(context.Background(), env{getenv: envOf(nil), stdout: &stdout, stderr: &stderr}, []string{"secret"}))
	require.Contains(t, stderr.String(), "the only subcommand is rotate")
}

// randomKey is a new HUDDLE_SECRET_KEY value.
func randomKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	_, err := io.ReadFull(rand.Reader, b)
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(b)
}

func sealerFor(t *testing.T, key string) *seal.Sealer {
	t.Helper()
	raw, err := parseSecretKey(key)
	require.NoError(t, err)
	s, err := seal.New(raw)
	require.NoError(t, err)
	return s
}

// signsAndVerifies signs with key and checks the signature against the published JWKS.
func signsAndVerifies(t *testing.T, keys *lti.Keyring, key jwk.Key) error {
	t.Helper()
	signed, err := jws.Sign([]byte("payload"), jws.WithKey(jwa.RS256, key))
	if err != nil {
		return err
	}
	body, err := keys.PublicJWKS(t.Context())
	if err != nil {
		return err
	}
	set, err := jwk.Parse(body)
	if err != nil {
		return err
	}
	_, err = jws.Verify(signed, jws.WithKeySet(set))
	return err
}

// sealedValues returns every sealed column's value by table and row.
func sealedValues(t *testing.T, pool *pgxpool.Pool) map[string][]byte {
	t.Helper()
	rows, err := pool.Query(t.Context(), `
SELECT 'tool_keys ' || id, private_key FROM tool_keys
UNION ALL
SELECT 'moodle_connections ' || platform_id, token_sealed FROM moodle_connections`)
	require.NoError(t, err)
	out := map[string][]byte{}
	var row string
	var sealed []byte
	_, err = pgx.ForEachRow(rows, []any{&row, &sealed}, func() error {
		out[row] = bytes.Clone(sealed)
		return nil
	})
	require.NoError(t, err)
	return out
}
