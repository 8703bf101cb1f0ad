package moodle

import (
	"fmt"
	"maps"
	"math"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// encodeParams flattens nested arguments into the keys PHP parses back into arrays, which is how Moodle's
// REST server receives structured parameters: {"grades": []map[string]any{{"studentid": 5}}} becomes
// grades[0][studentid]=5. Values may be strings, booleans, integers, floats, slices and string-keyed maps
// (of any named types with those kinds), nested to any depth.
//
// An empty slice or map produces no keys: a form body cannot express an empty PHP array, and Moodle then
// applies the parameter's default.
func encodeParams(params map[string]any) (url.Values, error) {
	form := url.Values{}
	for _, key := range slices.Sorted(maps.Keys(params)) {
		if err := encodeValue(form, key, reflect.ValueOf(params[key])); err != nil {
			return nil, err
		}
	}
	return form, nil
}

func encodeValue(form url.Values, key string, v reflect.Value) error {
	if !v.IsValid() {
		return fmt.Errorf("parameter %s is nil", key)
	}
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return fmt.Errorf("parameter %s is nil", key)
		}
		return encodeValue(form, key, v.Elem())
	case reflect.String:
		form.Add(key, v.String())
	case reflect.Bool:
		// PARAM_BOOL accepts 1/0; "true" is also accepted but 1/0 is what Moodle's own clients send.
		if v.Bool() {
			form.Add(key, "1")
		} else {
			form.Add(key, "0")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		form.Add(key, strconv.FormatInt(v.Int(), 10))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		form.Add(key, strconv.FormatUint(v.Uint(), 10))
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("parameter %s is not a finite number", key)
		}
		// 'f' rather than 'g': PARAM_FLOAT does not accept exponents such as 1e+06.
		form.Add(key, strconv.FormatFloat(f, 'f', -1, 64))
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if err := encodeValue(form, key+"["+strconv.Itoa(i)+"]", v.Index(i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return fmt.Errorf("parameter %s: map keys must be strings, not %s", key, v.Type().Key())
		}
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for _, k := range keys {
			if err := encodeValue(form, key+"["+k.String()+"]", v.MapIndex(k)); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("parameter %s has unsupported type %s", key, v.Type())
	}
	return nil
}
