// Package tfsessiontest opens TensorFlow sessions for tests: a scope's
// graph, finalized, in a session that closes when the test ends; and reads
// their results back flat.
package tfsessiontest

import (
	"reflect"
	"testing"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"
)

// Open finalizes s and opens a session on its graph with opts (nil:
// TensorFlow's defaults); the session closes when t ends. A failure ends
// the test.
func Open(t testing.TB, s *op.Scope, opts *tf.SessionOptions) *tf.Session {
	t.Helper()
	g, err := s.Finalize()
	if err != nil {
		t.Fatal(err)
	}
	sess, err := tf.NewSession(g, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	return sess
}

// Flatten is a tensor value's float32s (tf.Tensor.Value() of any rank), in
// row-major order.
func Flatten(v any) []float32 {
	var out []float32
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case float32:
			out = append(out, x)
		case []float32:
			out = append(out, x...)
		default:
			rv := reflect.ValueOf(v)
			for i := range rv.Len() {
				walk(rv.Index(i).Interface())
			}
		}
	}
	walk(v)
	return out
}
