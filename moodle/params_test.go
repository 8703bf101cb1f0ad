package moodle

import (
	"math"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEncodeParams(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		params map[string]any
		want   url.Values
	}{
		{
			name:   "scalars",
			params: map[string]any{"courseid": int64(2), "field": "shortname", "onlyactive": true, "hidden": false},
			want:   url.Values{"courseid": {"2"}, "field": {"shortname"}, "onlyactive": {"1"}, "hidden": {"0"}},
		},
		{
			name:   "floats without exponents or trailing zeros",
			params: map[string]any{"a": 77.5, "b": 18.0, "c": 1e6, "d": 0.1, "e": float32(2.5), "f": -3.25},
			want:   url.Values{"a": {"77.5"}, "b": {"18"}, "c": {"1000000"}, "d": {"0.1"}, "e": {"2.5"}, "f": {"-3.25"}},
		},
		{
			name:   "list of ints",
			params: map[string]any{"courseids": []int64{2, 3}},
			want:   url.Values{"courseids[0]": {"2"}, "courseids[1]": {"3"}},
		},
		{
			name: "list of structures",
			params: map[string]any{"grades": []map[string]any{
				{"studentid": 4, "grade": 18.0},
				{"studentid": 5, "grade": 12.0},
			}},
			want: url.Values{
				"grades[0][studentid]": {"4"}, "grades[0][grade]": {"18"},
				"grades[1][studentid]": {"5"}, "grades[1][grade]": {"12"},
			},
		},
		{
			name: "structure of lists, as core_calendar_get_calendar_events takes (ws/030)",
			params: map[string]any{
				"events":  map[string]any{"courseids": []int{2}},
				"options": map[string]int64{"timestart": 1795715099, "timeend": 1799775899},
			},
			want: url.Values{
				"events[courseids][0]": {"2"},
				"options[timestart]":   {"1795715099"}, "options[timeend]": {"1799775899"},
			},
		},
		{
			name:   "named types keep their underlying kind",
			params: map[string]any{"eventtype": EventCourse, "format": FormatPlain, "visible": Flag(true)},
			want:   url.Values{"eventtype": {"course"}, "format": {"2"}, "visible": {"1"}},
		},
		{
			name:   "pointer and interface values",
			params: map[string]any{"list": []any{"a", ptr(int64(7))}},
			want:   url.Values{"list[0]": {"a"}, "list[1]": {"7"}},
		},
		{
			name:   "empty collections send nothing so Moodle applies its default",
			params: map[string]any{"options": []map[string]any(nil), "courseids": []int{}, "m": map[string]any{}},
			want:   url.Values{},
		},
		{
			name:   "no parameters",
			params: nil,
			want:   url.Values{},
		},
		{
			name:   "brackets and specials in values are escaped by the form encoding, not the keys",
			params: map[string]any{"text": "a&b=c [d]"},
			want:   url.Values{"text": {"a&b=c [d]"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := encodeParams(tt.params)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)

			// The encoded body must parse back into the same keys, as PHP's parser will see them.
			parsed, err := url.ParseQuery(got.Encode())
			require.NoError(t, err)
			require.Equal(t, tt.want, parsed)
		})
	}
}

func TestEncodeParamsRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		params map[string]any
		want   string
	}{
		{"nil value", map[string]any{"a": nil}, "parameter a is nil"},
		{"nil pointer", map[string]any{"a": []any{(*int)(nil)}}, "parameter a[0] is nil"},
		{"not a number", map[string]any{"g": []map[string]any{{"grade": math.NaN()}}}, "g[0][grade] is not a finite number"},
		{"infinity", map[string]any{"g": math.Inf(1)}, "not a finite number"},
		{"map with int keys", map[string]any{"m": map[int]string{1: "x"}}, "map keys must be strings"},
		{"struct", map[string]any{"s": struct{}{}}, "unsupported type"},
		{"func", map[string]any{"f": func() {}}, "unsupported type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := encodeParams(tt.params)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func ptr[T any](v T) *T { return &v }
