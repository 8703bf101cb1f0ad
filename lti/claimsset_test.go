package lti

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/huddle-lti/huddle/internal/moodlecapture"
)

// byTags is Claims without methods of its own, so that encoding/json decodes it by
// its field tags (and the nested types' own UnmarshalJSON): the reference
// decodeClaimsSet is held to.
type byTags Claims

// everyClaim is a Claims with every field, nested ones included, set: what
// decodeClaimsSet must read back from encoding/json's rendering of it.
func everyClaim() Claims {
	return Claims{
		Issuer: "https://moodle.example", Subject: "4", Nonce: "n-1", AuthorizedParty: "client-1",
		Name: "Lena Learner", GivenName: "Lena", FamilyName: "Learner", Email: "lena@example.com",
		MessageType: MessageResourceLink, Version: LTIVersion, DeploymentID: "1",
		TargetLinkURI:   "https://huddle.example/lti/launch",
		ResourceLink:    &ResourceLink{ID: "2", Title: "Case board", Description: "Cases \"quoted\" \\ é 😀"},
		Roles:           []string{"http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"},
		RoleScopeMentor: []string{"5"},
		Context:         &Context{ID: "2", Label: "FY1", Title: "Foundation year", Type: []string{"CourseOffering"}},
		ToolPlatform: &ToolPlatform{GUID: "g", Name: "Moodle", Description: "Trust Moodle", ContactEmail: "it@example.com",
			URL: "https://moodle.example", ProductFamilyCode: "moodle", Version: "2024100700"},
		LaunchPresentation: &LaunchPresentation{DocumentTarget: "iframe", ReturnURL: "https://moodle.example/return", Locale: "en", Height: 400, Width: 800},
		LIS: &LIS{PersonSourcedID: "p", CourseOfferingSourcedID: "co", CourseSectionSourcedID: "cs",
			ResultSourcedID: "r", OutcomeServiceURL: "https://moodle.example/outcomes"},
		Custom: CustomParameters{"huddle_kind": "board", "empty": ""},
		AGS: &AGSEndpoint{Scope: []string{"https://purl.imsglobal.org/spec/lti-ags/scope/score"},
			LineItems: "https://moodle.example/lineitems", LineItem: "https://moodle.example/lineitems/1"},
		NRPS: &NRPSService{ContextMembershipsURL: "https://moodle.example/memberships", ServiceVersions: []string{"2.0"}},
		DeepLinking: &DeepLinkingSettings{DeepLinkReturnURL: "https://moodle.example/dl", AcceptTypes: []string{"ltiResourceLink"},
			AcceptPresentationDocumentTargets: []string{"iframe"}, AcceptMediaTypes: "text/html", AcceptMultiple: true,
			AcceptLineItem: true, AutoCreate: true, Title: "t", Text: "x", Data: "d"},
		StorageTarget: "_parent",
	}
}

// requireEveryFieldSet fails when a field of v, or of a struct it points to, is its
// zero value: a field added to Claims must be added to everyClaim, and so to the
// decoder, or this test fails.
func requireEveryFieldSet(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	if v.Kind() == reflect.Pointer {
		require.False(t, v.IsNil(), "%s is not set in everyClaim", path)
		v = v.Elem()
	}
	for i := range v.NumField() {
		f, name := v.Field(i), path+"."+v.Type().Field(i).Name
		require.False(t, f.IsZero(), "%s is not set in everyClaim", name)
		if f.Kind() == reflect.Pointer && f.Elem().Kind() == reflect.Struct {
			requireEveryFieldSet(t, f, name)
		}
	}
}

// decodeBoth decodes payload with decodeClaimsSet and with encoding/json by the tags.
func decodeBoth(t *testing.T, payload []byte) (got claimsSet, want Claims, wantErr error) {
	t.Helper()
	got, err := decodeClaimsSet(payload)
	require.NoError(t, err, "%s", payload)
	wantErr = json.Unmarshal(payload, (*byTags)(&want))
	return got, want, wantErr
}

func TestClaimsSetDecodesAsTheFieldTagsSay(t *testing.T) {
	t.Parallel()
	every := everyClaim()
	requireEveryFieldSet(t, reflect.ValueOf(every), "Claims")
	full, err := json.Marshal(byTags(every))
	require.NoError(t, err)

	t.Run("every field", func(t *testing.T) {
		t.Parallel()
		got, want, err := decodeBoth(t, full)
		require.NoError(t, err)
		require.NoError(t, got.typeErr)
		require.Equal(t, every, want)
		require.Equal(t, want, got.Claims)
	})

	t.Run("Moodle's id_tokens", func(t *testing.T) {
		t.Parallel()
		names := moodlecapture.Glob(t, "lti/*/*-id-token-*.jwt")
		require.NotEmpty(t, names)
		for _, name := range names {
			parts := strings.Split(strings.TrimSpace(string(moodlecapture.Read(t, name))), ".")
			require.Len(t, parts, 3, name)
			payload, err := base64.RawURLEncoding.DecodeString(parts[1])
			require.NoError(t, err, name)
			got, want, err := decodeBoth(t, payload)
			require.NoError(t, err, name)
			require.NoError(t, got.typeErr, name)
			require.Equal(t, want, got.Claims, name)
		}
	})

	t.Run("strings with escapes", func(t *testing.T) {
		t.Parallel()
		for _, s := range []string{`\"`, `\\`, `\/`, `\u00e9`, `\ud83d\ude00`, `\ud800`, `\udc00x`, `\u0000`, `\n\t\b\f\r`, `é 😀`} {
			payload := []byte(`{"sub":"a` + s + `b","https://purl.imsglobal.org/spec/lti/claim/custom":{"k` + s + `":"v` + s + `"}}`)
			got, want, err := decodeBoth(t, payload)
			require.NoError(t, err, s)
			require.Equal(t, want, got.Claims, s)
		}
	})

	// Every claim and every member of an object claim, given each JSON type in turn:
	// both decoders refuse the same ones, and decode the rest alike.
	t.Run("every claim given every JSON type", func(t *testing.T) {
		t.Parallel()
		var top map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(full, &top))
		values := []string{`1`, `-2.5`, `"s"`, `"12"`, `true`, `false`, `null`, `[]`, `["s"]`, `[1]`, `[null]`, `{}`, `{"k":1}`}
		mutate := func(path string, set func(v string) []byte) {
			for _, v := range values {
				payload := set(v)
				got, want, wantErr := decodeBoth(t, payload)
				if wantErr != nil {
					require.Error(t, got.typeErr, "%s = %s: encoding/json refused it", path, v)
					continue
				}
				require.NoError(t, got.typeErr, "%s = %s", path, v)
				require.Equal(t, want, got.Claims, "%s = %s", path, v)
			}
		}
		for claim, raw := range top {
			if claim == "iss" {
				continue // a registered claim: the JWT library's to judge
			}
			mutate(claim, func(v string) []byte { return with(t, top, claim, json.RawMessage(v)) })
			var members map[string]json.RawMessage
			if json.Unmarshal(raw, &members) != nil || members == nil {
				continue
			}
			for member := range members {
				mutate(claim+"."+member, func(v string) []byte {
					return with(t, top, claim, with(t, members, member, json.RawMessage(v)))
				})
			}
		}
	})
}

// with renders m with name set to v, leaving m as it was.
func with(t *testing.T, m map[string]json.RawMessage, name string, v json.RawMessage) []byte {
	t.Helper()
	c := make(map[string]json.RawMessage, len(m))
	for k, x := range m {
		c[k] = x
	}
	c[name] = v
	b, err := json.Marshal(c)
	require.NoError(t, err)
	return b
}

func TestClaimsSetNamesMatchExactly(t *testing.T) {
	t.Parallel()
	// encoding/json would take each of these for a Claims field; RFC 7519 §4 says
	// names compare exactly, and so does decodeClaimsSet.
	payload := []byte(`{"SUB":"4","Nonce":"n","https://purl.imsglobal.org/spec/lti/claim/Roles":["x"],` +
		`"https://purl.imsglobal.org/spec/lti/claim/resource_link":{"ID":"2","title":"t"}}`)
	got, err := decodeClaimsSet(payload)
	require.NoError(t, err)
	require.NoError(t, got.typeErr)
	require.Equal(t, Claims{ResourceLink: &ResourceLink{Title: "t"}}, got.Claims)

	var loose Claims
	require.NoError(t, json.Unmarshal(payload, &loose))
	require.Equal(t, "4", loose.Subject, "encoding/json matches names in any case")
}

func TestClaimsSetRegisteredClaims(t *testing.T) {
	t.Parallel()
	exp := time.Unix(1764000060, 0).UTC()
	tests := []struct {
		name    string
		payload string
		aud     []string
		wantErr string
	}{
		{"aud a string", `{"iss":"i","aud":"c","exp":1764000060}`, []string{"c"}, ""},
		{"aud an array", `{"iss":"i","aud":["c","d"],"exp":1764000060}`, []string{"c", "d"}, ""},
		{"exp a numeric string", `{"iss":"i","aud":"c","exp":"1764000060"}`, []string{"c"}, ""},
		{"last duplicate counts", `{"iss":"x","iss":"i","aud":"c","exp":1,"exp":1764000060}`, []string{"c"}, ""},
		{"iss a number", `{"iss":1}`, nil, `claim "iss": JSON number is not accepted`},
		{"aud an object", `{"aud":{"c":1}}`, nil, `claim "aud": JSON object is not accepted`},
		{"exp not a date", `{"exp":"soon"}`, nil, `claim "exp": JSON string is not accepted`},
		{"nbf a bool", `{"nbf":true}`, nil, `claim "nbf": JSON bool is not accepted`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeClaimsSet([]byte(tt.payload))
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, "i", got.registered.Issuer())
			require.Equal(t, "i", got.Issuer)
			require.Equal(t, tt.aud, got.registered.Audience())
			require.Equal(t, exp, got.registered.Expiration())
		})
	}
}

func TestClaimsSetRefusesWhatIsNotAJSONObject(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, payload, err string }{
		{"empty", ``, "claims set is not JSON"},
		{"not JSON", `nope`, "claims set is not JSON"},
		{"trailing data", `{"sub":"4"} {}`, "claims set is not JSON"},
		{"unterminated", `{"sub":"4"`, "claims set is not JSON"},
		{"null", `null`, "claims set is not a JSON object"},
		{"array", `[{"sub":"4"}]`, "claims set is not a JSON object"},
		{"string", `"sub"`, "claims set is not a JSON object"},
		{"not UTF-8", "{\"sub\":\"\xff\"}", "claims set is not UTF-8"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := decodeClaimsSet([]byte(tt.payload))
			require.EqualError(t, err, tt.err)
		})
	}
}

// FuzzClaimsSetValidity holds decodeClaimsSet's idea of JSON to encoding/json's: a
// payload it refuses as not JSON is one encoding/json refuses too, and the reverse.
func FuzzClaimsSetValidity(f *testing.F) {
	f.Add([]byte(`{"sub":"4","aud":["c"],"exp":1e9}`))
	f.Add([]byte(`{"a":[1,-0.5e+3,true,false,null,{"b":"\u00e9\n"}]}`))
	f.Add([]byte(`{"a":01}`))
	f.Add([]byte(`{"a":"\x01"}`))
	f.Add([]byte(` {} `))
	f.Fuzz(func(t *testing.T, payload []byte) {
		_, err := decodeClaimsSet(payload)
		notJSON := err != nil && err.Error() == "claims set is not JSON"
		if err != nil && err.Error() == "claims set is not UTF-8" {
			return
		}
		require.Equal(t, !json.Valid(payload), notJSON, "%q", payload)
	})
}

// A claim of the wrong JSON type is named, member and all, without its value.
func TestClaimsSetNamesTheMismatch(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ payload, err string }{
		{`{"sub":4}`, `claim "sub": JSON number where string expected`},
		{`{"` + ClaimResourceLink + `":{"id":{"secret":"x"}}}`, `claim "` + ClaimResourceLink + `.id": JSON object where string expected`},
		{`{"` + ClaimRoles + `":["a",true]}`, `claim "` + ClaimRoles + `": JSON bool where string expected`},
		{`{"` + ClaimDeepLinking + `":{"accept_multiple":"yes"}}`, `claim "` + ClaimDeepLinking + `.accept_multiple": JSON string where bool expected`},
		{`{"` + ClaimContext + `":"course"}`, `claim "` + ClaimContext + `": JSON string where object expected`},
		{`{"sub":[],"nonce":1}`, `claim "sub": JSON array where string expected`},
	} {
		got, err := decodeClaimsSet([]byte(tt.payload))
		require.NoError(t, err, tt.payload)
		require.EqualError(t, got.typeErr, tt.err, tt.payload)
	}
}
