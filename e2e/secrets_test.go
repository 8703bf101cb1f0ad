package e2e

// Issue 13: Huddle never logs a secret, a token or patient-identifiable text. Each
// stack collects every secret it comes to know while its journeys run (keys, tokens,
// session ids, id_tokens, the patient's NHS number the journeys paste), and when the
// stack has stopped, its whole log, Huddle's and the development platform's at Debug,
// is searched for each of them.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/storage"
	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// minSecretLen is the shortest value the scan looks for. Shorter values (the cookie
// check's "1", a Moodle user id, a kid) turn up in logs by chance and would fail the
// scan for nothing, while every real secret is longer: Huddle's tokens are 43
// characters, the platform's 32, keys and JWTs far more. Patient identifiers are
// looked for whatever their length (addPatient).
const minSecretLen = 16

// maxReportedLeaks bounds the failures one scan reports; a path logged on every
// request would otherwise repeat the same finding hundreds of times.
const maxReportedLeaks = 25

// secret is one value that must never appear in a log.
type secret struct {
	kind  string // what it is, for the failure message
	value string
	// patient marks patient-identifiable text: a failure names its kind but shows no
	// part of it.
	patient bool
}

// shown is how a failure refers to the secret: its kind and a short prefix, which
// tells two secrets of a kind apart without giving either away.
func (s secret) shown() string {
	if s.patient || len(s.value) < minSecretLen {
		return "[" + s.kind + "]"
	}
	return "[" + s.kind + " " + s.value[:6] + "…]"
}

// secretSet is what one stack knows must never be logged. It is safe for concurrent
// use: the platform's hook and the wire tap add to it from request handlers.
type secretSet struct {
	mu      sync.Mutex
	byValue map[string]secret // the first kind a value was added as wins
}

func newSecretSet() *secretSet { return &secretSet{byValue: map[string]secret{}} }

// add adds value, if it is long enough to look for (minSecretLen), and its
// percent-encoded form, which a logged URL or form would hold.
func (s *secretSet) add(kind, value string) {
	if len(value) < minSecretLen {
		return
	}
	s.put(secret{kind: kind, value: value})
	if esc := url.QueryEscape(value); esc != value {
		s.put(secret{kind: kind + " (URL-encoded)", value: esc})
	}
}

// addPatient adds patient-identifiable text, however short.
func (s *secretSet) addPatient(kind, value string) {
	if value != "" {
		s.put(secret{kind: kind, value: value, patient: true})
	}
}

func (s *secretSet) put(sc secret) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byValue[sc.value]; !ok {
		s.byValue[sc.value] = sc
	}
}

// addJWT adds a signed token and also its payload and its signature on their own: a
// log line holding either still gives away the claims or the proof.
func (s *secretSet) addJWT(kind, token string) {
	s.add(kind, token)
	if parts := strings.Split(token, "."); len(parts) == 3 {
		s.add(kind+" payload", parts[1])
		s.add(kind+" signature", parts[2])
	}
}

// addKeyBytes adds a symmetric key as configuration and code write it: base64 in
// both alphabets, padded or not, and hex.
func (s *secretSet) addKeyBytes(kind string, key []byte) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		s.add(kind, enc.EncodeToString(key))
	}
	s.add(kind, hex.EncodeToString(key))
}

// addPrivateKey adds the private numbers of k as a JWK (base64url), PEM, %v (decimal)
// and hex print them. Of a PEM only the lines after the private exponent begins are
// added: the earlier ones encode the public modulus, which the JWKS publishes.
func (s *secretSet) addPrivateKey(kind string, k *rsa.PrivateKey) error {
	k.Precompute()
	if len(k.Primes) != 2 || k.Precomputed.Dp == nil {
		return fmt.Errorf("%s: want a two-prime RSA key", kind)
	}
	for _, n := range []struct {
		name string
		v    *big.Int
	}{{"d", k.D}, {"p", k.Primes[0]}, {"q", k.Primes[1]},
		{"dp", k.Precomputed.Dp}, {"dq", k.Precomputed.Dq}, {"qi", k.Precomputed.Qinv}} {
		what := kind + " (" + n.name + ")"
		b := n.v.Bytes()
		s.add(what, base64.RawURLEncoding.EncodeToString(b))
		s.add(what, base64.StdEncoding.EncodeToString(b))
		s.add(what, hex.EncodeToString(b))
		s.add(what, n.v.String())
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return fmt.Errorf("%s: %w", kind, err)
	}
	for _, der := range [][]byte{x509.MarshalPKCS1PrivateKey(k), pkcs8} {
		// A PEM body is the DER in base64, 64 characters (48 bytes) a line.
		off := bytes.Index(der, k.D.Bytes())
		for i := (off + 47) / 48 * 48; off >= 0 && i+48 <= len(der); i += 48 {
			s.add(kind+" (PEM line)", base64.StdEncoding.EncodeToString(der[i:i+48]))
		}
	}
	return nil
}

// addSessionCSRFTokens adds the CSRF token of every session Huddle's database holds
// (it keeps session ids only as hashes; the wire tap and the browsers give those).
func (s *secretSet) addSessionCSRFTokens(ctx context.Context, db *pgxpool.Pool) error {
	rows, err := db.Query(ctx, `SELECT csrf_token FROM sessions`)
	if err != nil {
		return fmt.Errorf("read CSRF tokens: %w", err)
	}
	tokens, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("read CSRF tokens: %w", err)
	}
	for _, tok := range tokens {
		s.add("CSRF token", tok)
	}
	return nil
}

// fromPlatform adds what the development platform reports through Config.OnSecret.
func (s *secretSet) fromPlatform(kind, value string) {
	switch kind {
	case "id_token", "client_assertion", "deep_linking_response":
		s.addJWT(kind, value)
	case "state", "nonce":
		s.add("login "+kind, value)
	case "session":
		s.add("development platform session", value)
	default:
		s.add(kind, value)
	}
}

// Request fields and query parameters that carry a secret to Huddle.
var secretFields = map[string]string{
	sessionParam:          "URL session (hs)",
	"csrf":                "CSRF token",
	"state":               "login state",
	"lti_storage_browser": "browser binding",
	"i":                   "login initiation id",
}

// sessionParam is web's URL session parameter: a frame without cookies keeps its
// session id there.
const sessionParam = "hs"

// Paths whose last segment is a secret: the "open in new window" ticket, the id of a
// pending Deep Linking request and a cookie-less frame's Deep Linking relay (Huddle
// stores each only as a hash).
var secretPaths = map[string]string{
	"/handoff/":   "hand-off ticket",
	"/deep-link/": "Deep Linking request id",
	"/lti/relay/": "Deep Linking relay",
}

// addURL adds the secrets a URL of Huddle's carries in its query and path.
func (s *secretSet) addURL(u *url.URL) {
	for name, kind := range secretFields {
		for _, v := range u.Query()[name] {
			s.add(kind, v)
		}
	}
	for prefix, kind := range secretPaths {
		if rest, ok := strings.CutPrefix(u.Path, prefix); ok {
			s.add(kind, strings.Split(rest, "/")[0])
		}
	}
}

// addRequest adds the secrets one request to Huddle carries: Huddle's cookies, the
// secret fields of its query and form, the CSRF header, an id_token and secret paths.
func (s *secretSet) addRequest(r *http.Request) {
	for _, ck := range r.Cookies() {
		if strings.HasPrefix(ck.Name, "huddle_") {
			s.add("cookie "+ck.Name, ck.Value)
		}
	}
	s.add("CSRF token", r.Header.Get("X-CSRF-Token"))
	s.addURL(r.URL)
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		_ = r.ParseMultipartForm(1 << 20)
	} else {
		_ = r.ParseForm()
	}
	for name, kind := range secretFields {
		for _, v := range r.PostForm[name] {
			s.add(kind, v)
		}
	}
	for _, v := range r.PostForm["id_token"] {
		s.addJWT("id_token", v)
	}
}

// list returns the secrets, longest first: masking then replaces a whole token
// before any part of it.
func (s *secretSet) list() []secret {
	s.mu.Lock()
	out := make([]secret, 0, len(s.byValue))
	for _, sc := range s.byValue {
		out = append(out, sc)
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b secret) int {
		if len(a.value) != len(b.value) {
			return len(b.value) - len(a.value)
		}
		return strings.Compare(a.value, b.value)
	})
	return out
}

// summary counts the values looked for by what they are, variants included (the
// encodings of a key, a token's payload, a URL-encoded form), for the test's log.
func (s *secretSet) summary() string {
	counts := map[string]int{}
	for _, sc := range s.list() {
		family, _, _ := strings.Cut(sc.kind, " (")
		family = strings.TrimSuffix(strings.TrimSuffix(family, " payload"), " signature")
		counts[family]++
	}
	var parts []string
	for _, family := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, fmt.Sprintf("%s %d", family, counts[family]))
	}
	return strings.Join(parts, ", ")
}

// mask replaces every known secret in text by how failures show it.
func mask(known []secret) func(string) string {
	pairs := make([]string, 0, 2*len(known))
	for _, sc := range known {
		pairs = append(pairs, sc.value, sc.shown())
	}
	r := strings.NewReplacer(pairs...)
	return r.Replace
}

// redact is the log with every secret known so far masked, safe to print.
func (s *secretSet) redact(log string) string { return mask(s.list())(log) }

// leak is a secret found in a log.
type leak struct {
	secret
	line int    // 1-based
	at   int    // the offset in the log
	text string // the line, every known secret in it masked
}

// scanLog finds every known secret in log and returns the leaks in log order, one
// per kind of secret and line: a part of a longer secret found at the same place, or
// a second PEM line in one logged key, is not reported again.
func scanLog(log string, known []secret) []leak {
	known = slices.Clone(known)
	slices.SortStableFunc(known, func(a, b secret) int { return len(b.value) - len(a.value) })
	starts := []int{0}
	for i := 0; i < len(log); i++ {
		if log[i] == '\n' {
			starts = append(starts, i+1)
		}
	}
	lineText := func(n int) string {
		end := len(log)
		if n < len(starts) {
			end = starts[n] - 1
		}
		return log[starts[n-1]:end]
	}
	masked := mask(known)
	type span struct{ from, to int }
	var covered []span // of the secrets found so far, longest first
	type found struct {
		kind string
		line int
	}
	reported := map[found]bool{}
	var leaks []leak
	for _, sc := range known {
		if sc.value == "" {
			continue
		}
		for off := 0; ; {
			i := strings.Index(log[off:], sc.value)
			if i < 0 {
				break
			}
			from, to := off+i, off+i+len(sc.value)
			off = from + 1
			if slices.ContainsFunc(covered, func(c span) bool { return c.from <= from && to <= c.to }) {
				continue
			}
			covered = append(covered, span{from, to})
			line := sort.Search(len(starts), func(j int) bool { return starts[j] > from })
			if f := (found{sc.kind, line}); !reported[f] {
				reported[f] = true
				leaks = append(leaks, leak{secret: sc, line: line, at: from, text: masked(lineText(line))})
			}
		}
	}
	slices.SortFunc(leaks, func(a, b leak) int { return a.at - b.at })
	return leaks
}

// reportLeaks fails t once for each leak: the kind of secret, a short prefix of it
// and the log line number, with the line masked. It never prints a secret whole.
func reportLeaks(t testing.TB, leaks []leak) {
	t.Helper()
	for i, l := range leaks {
		if i == maxReportedLeaks {
			t.Errorf("and %d more secrets in the server log", len(leaks)-i)
			return
		}
		text := l.text
		if len(text) > 400 {
			text = text[:400] + "…"
		}
		t.Errorf("the server log leaks a %s %s on line %d: %s", l.kind, l.shown(), l.line, text)
	}
}

// stackSecrets maps a test's name to the secrets of the stack the test started, so
// that a browser started by that test, or by one of its subtests, can add what it
// holds for Huddle when it closes. newBrowser is not told its stack.
var stackSecrets = struct {
	sync.Mutex
	byTest map[string]*secretSet
}{byTest: map[string]*secretSet{}}

func registerStackSecrets(t *testing.T, known *secretSet) {
	stackSecrets.Lock()
	stackSecrets.byTest[t.Name()] = known
	stackSecrets.Unlock()
	t.Cleanup(func() {
		stackSecrets.Lock()
		delete(stackSecrets.byTest, t.Name())
		stackSecrets.Unlock()
	})
}

// stackSecretsOf returns the secrets of the stack t, or a test t is a subtest of,
// started; nil when there is none (the cookie canary's browsers).
func stackSecretsOf(t testing.TB) *secretSet {
	stackSecrets.Lock()
	defer stackSecrets.Unlock()
	for name := t.Name(); ; {
		if s, ok := stackSecrets.byTest[name]; ok {
			return s
		}
		i := strings.LastIndex(name, "/")
		if i < 0 {
			return nil
		}
		name = name[:i]
	}
}

// harvestBrowserSecrets adds what a closing browser holds for Huddle to the secrets of
// its test's stack: the value of every huddle_* cookie, in every partition, and the
// secrets in the URLs its pages and frames show (a cookieless frame's hs). It is best
// effort: a browser that no longer answers is only logged.
func harvestBrowserSecrets(t *testing.T, ctx context.Context) {
	known := stackSecretsOf(t)
	if known == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	res, err := chromedp.CallBrowser(ctx, storage.GetCookies, storage.GetCookiesParams{})
	if err != nil {
		t.Logf("collect the browser's cookies for the log scan: %v", err)
	} else {
		for _, ck := range res.Cookies {
			if strings.HasPrefix(ck.Name, "huddle_") {
				known.add("cookie "+ck.Name, ck.Value)
			}
		}
	}
	infos, err := chromedp.Targets(ctx)
	if err != nil {
		t.Logf("collect the browser's URLs for the log scan: %v", err)
		return
	}
	for _, info := range infos {
		if u, err := url.Parse(info.URL); err == nil {
			known.addURL(u)
		}
	}
}

// tapListener is Huddle's listener that also reads a copy of every request on its
// connections for the secrets it carries (Huddle's cookies, hs, CSRF tokens, login
// states, hand-off tickets): every value a browser or the platform sent Huddle,
// including session ids a later launch replaced and cookieless sessions no cookie
// jar holds. Huddle reads the very same bytes, unchanged, as from the listener itself.
type tapListener struct {
	net.Listener
	known *secretSet
}

func (l tapListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	r, w := io.Pipe()
	go func() {
		readRequests(r, l.known)
		// Whatever could not be read as requests is drained, so Huddle's reads
		// never wait on the tap.
		_, _ = io.Copy(io.Discard, r)
	}()
	return &tapConn{Conn: c, copy: w}, nil
}

// readRequests reads the requests of one connection until it ends or stops being HTTP/1.
func readRequests(r io.Reader, known *secretSet) {
	br := bufio.NewReader(r)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		body, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		known.addRequest(req)
	}
}

// tapConn copies what Huddle reads to the tap.
type tapConn struct {
	net.Conn
	copy *io.PipeWriter
}

func (c *tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		_, _ = c.copy.Write(p[:n])
	}
	return n, err
}

func (c *tapConn) Close() error {
	_ = c.copy.Close()
	return c.Conn.Close()
}

// The tests below need neither a browser nor a stack: they prove that the scan fails
// on a secret planted in a log and passes a clean one.

// failures is a testing.TB that keeps what Errorf reports instead of failing.
type failures struct {
	testing.TB
	msgs []string
}

func (f *failures) Helper() {}

func (f *failures) Errorf(format string, args ...any) {
	f.msgs = append(f.msgs, fmt.Sprintf(format, args...))
}

// plantedSecrets is a stack's secrets as a test knows them, and the values themselves.
type plantedSecrets struct {
	known                     *secretSet
	key                       *rsa.PrivateKey
	ticket, idToken, urlValue string
}

func newPlantedSecrets(t *testing.T) plantedSecrets {
	t.Helper()
	p := plantedSecrets{known: newSecretSet()}
	p.ticket = base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte("ticket"), 6))
	p.known.add("hand-off ticket", p.ticket)
	p.idToken = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9." +
		base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"4","nonce":"a-nonce-of-the-login"}`)) + "." +
		base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte("signature"), 8))
	p.known.addJWT("id_token", p.idToken)
	// Its standard base64 is all "+", which a URL holds as "%2B".
	secretKey := bytes.Repeat([]byte{0xfb, 0xef, 0xbe}, 11)
	p.known.addKeyBytes("HUDDLE_SECRET_KEY", secretKey)
	p.urlValue = url.QueryEscape(base64.StdEncoding.EncodeToString(secretKey))
	var err error
	p.key, err = rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	require.NoError(t, p.known.addPrivateKey("Huddle's tool private key", p.key))
	p.known.addPatient("patient's NHS number", pastedNHSNumber)
	return p
}

// logLines writes each record as the stack's servers log: slog's text handler.
func logLines(records ...[]any) string {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for _, r := range records {
		log.Info(r[0].(string), r[1:]...)
	}
	return buf.String()
}

func TestScanLogFindsPlantedSecrets(t *testing.T) {
	t.Parallel()
	p := newPlantedSecrets(t)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(p.key)
	require.NoError(t, err)
	log := logLines(
		[]any{"request", "method", "GET", "path", "/activities/3", "status", 200},
		[]any{"request", "method", "GET", "path", "/handoff/" + p.ticket, "status", 303},
		[]any{"launch rejected", "detail", "bad claims in " + strings.Split(p.idToken, ".")[1]},
		[]any{"keys loaded", "pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}))},
		[]any{"guard", "text", pastedText},
		[]any{"outbound", "url", "http://127.0.0.1/x?key=" + p.urlValue},
		[]any{"launch", "id_token", p.idToken},
		[]any{"key", "value", p.key},
	)

	leaks := scanLog(log, p.known.list())
	type found struct {
		kind string
		line int
	}
	var got []found
	for _, l := range leaks {
		got = append(got, found{l.kind, l.line})
	}
	require.Equal(t, []found{
		{"hand-off ticket", 2},
		{"id_token payload", 3},
		{"Huddle's tool private key (PEM line)", 4},
		{"patient's NHS number", 5},
		{"HUDDLE_SECRET_KEY (URL-encoded)", 6},
		// The whole token, not its payload and signature again.
		{"id_token", 7},
		// %v of an rsa.PrivateKey prints its numbers in decimal.
		{"Huddle's tool private key (d)", 8},
		{"Huddle's tool private key (p)", 8},
		{"Huddle's tool private key (q)", 8},
		{"Huddle's tool private key (dp)", 8},
		{"Huddle's tool private key (dq)", 8},
		{"Huddle's tool private key (qi)", 8},
	}, got)

	// The failures name the kind and the line, and show no secret whole.
	var tb failures
	reportLeaks(&tb, leaks)
	require.Len(t, tb.msgs, len(leaks))
	require.Contains(t, tb.msgs[0], "the server log leaks a hand-off ticket [hand-off ticket "+p.ticket[:6]+"…] on line 2")
	require.Contains(t, tb.msgs[0], "path=/handoff/[hand-off ticket "+p.ticket[:6]+"…] status=303")
	require.Contains(t, tb.msgs[3], "[patient's NHS number]")
	for _, msg := range tb.msgs {
		for _, sc := range p.known.list() {
			require.NotContains(t, msg, sc.value, "a failure shows a %s", sc.kind)
		}
	}
	// The server log printed for a failed test is masked the same way.
	for _, sc := range p.known.list() {
		require.NotContains(t, p.known.redact(log), sc.value)
	}
}

func TestScanLogPassesCleanLog(t *testing.T) {
	t.Parallel()
	p := newPlantedSecrets(t)
	// The public half of the key, as the JWKS serves it and as a PEM.
	pub, err := x509.MarshalPKIXPublicKey(&p.key.PublicKey)
	require.NoError(t, err)
	log := logLines(
		[]any{"request", "method", "GET", "path", "/activities/3", "status", 200, "user", "4"},
		[]any{"jwks", "n", base64.RawURLEncoding.EncodeToString(p.key.N.Bytes()), "e", "AQAB"},
		[]any{"jwks", "pem", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))},
		[]any{"jwks", "pkcs1", string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&p.key.PublicKey)}))},
		[]any{"cookie check", "value", "1"},
		// Another ticket than the one known, and the NHS number's neighbours.
		[]any{"handoff", "path", "/handoff/" + base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte("other!"), 6))},
		[]any{"guard", "marked", 1, "kind", "nhs_number", "ids", "943 476 591"},
	)
	require.Empty(t, scanLog(log, p.known.list()))
}

func TestSecretSetSkipsShortValuesButNotPatientText(t *testing.T) {
	t.Parallel()
	known := newSecretSet()
	known.add("cookie huddle_cookie_check", "1")
	known.add("login state", "fifteen-chars-x")
	known.add("login nonce", "sixteen-chars-xx")
	known.addPatient("patient's NHS number", "9434765919")
	var got []string
	for _, sc := range known.list() {
		got = append(got, sc.kind)
	}
	require.Equal(t, []string{"login nonce", "patient's NHS number"}, got)
}

func TestTapListenerCollectsWhatRequestsCarry(t *testing.T) {
	t.Parallel()
	known := newSecretSet()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{ReadHeaderTimeout: stepTimeout, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseMultipartForm(1 << 20)
		_, _ = io.WriteString(w, "ok")
	})}
	go func() { _ = srv.Serve(tapListener{Listener: ln, known: known}) }()
	t.Cleanup(func() { _ = srv.Close() })
	base := "http://" + ln.Addr().String()

	const (
		sid     = "session-id-0123456789abcdef"
		browser = "browser-binding-0123456789"
		hs      = "url-session-0123456789abcd"
		ticket  = "handoff-ticket-0123456789ab"
		csrf    = "csrf-token-0123456789abcdef"
		state   = "login-state-0123456789abcde"
	)
	client := &http.Client{Transport: &http.Transport{}}
	get, err := http.NewRequest(http.MethodGet, base+"/handoff/"+ticket+"?hs="+hs, nil)
	require.NoError(t, err)
	get.AddCookie(&http.Cookie{Name: "huddle_session", Value: sid})
	get.AddCookie(&http.Cookie{Name: "huddle_browser", Value: browser})
	post, err := http.NewRequest(http.MethodPost, base+"/lti/launch",
		strings.NewReader(url.Values{"state": {state}, "csrf": {csrf}, "body": {pastedText}}.Encode()))
	require.NoError(t, err)
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	// Both on one kept-alive connection, as a browser sends them.
	for _, req := range []*http.Request{get, post} {
		resp, err := client.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	want := map[string]string{
		sid: "cookie huddle_session", browser: "cookie huddle_browser", hs: "URL session (hs)",
		ticket: "hand-off ticket", csrf: "CSRF token", state: "login state",
	}
	// The tap reads alongside the server: wait until it has read the second request.
	require.Eventually(t, func() bool {
		got := map[string]string{}
		for _, sc := range known.list() {
			got[sc.value] = sc.kind
		}
		return maps.Equal(want, got)
	}, stepTimeout, pollInterval)
}
