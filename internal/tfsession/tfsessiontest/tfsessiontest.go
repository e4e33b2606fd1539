// Package tfsessiontest opens TensorFlow sessions for tests: a scope's
// graph, finalized, in a session that closes when the test ends.
package tfsessiontest

import (
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
