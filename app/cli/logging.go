package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"reflect"
	"sort"
	"time"
)

// newLogger makes the process logger: text on a terminal, JSON otherwise
// (cron: `>>postergenre.jsonl 2>&1`), unless --log-format says. Maps in
// attributes (a stage's counts by outcome) become groups, so text logs read
// outcomes.downloaded=310 rather than a raw Go map.
func newLogger(w io.Writer, format string, quiet bool) *slog.Logger {
	level := slog.LevelInfo
	if quiet {
		level = slog.LevelWarn
	}
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(groupMaps{slog.NewJSONHandler(w, opts)})
	}
	return slog.New(groupMaps{slog.NewTextHandler(w, opts)})
}

// groupMaps turns map-valued attributes into slog groups, keys sorted.
type groupMaps struct{ slog.Handler }

func (h groupMaps) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(mapAsGroup(a))
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func (h groupMaps) WithAttrs(as []slog.Attr) slog.Handler {
	conv := make([]slog.Attr, len(as))
	for i, a := range as {
		conv[i] = mapAsGroup(a)
	}
	return groupMaps{h.Handler.WithAttrs(conv)}
}

func (h groupMaps) WithGroup(name string) slog.Handler {
	return groupMaps{h.Handler.WithGroup(name)}
}

// mapAsGroup converts an attribute holding a map with string keys (any
// value type) into a group, recursively.
func mapAsGroup(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	if v.Kind() != slog.KindAny {
		return a
	}
	rv := reflect.ValueOf(v.Any())
	if rv.Kind() != reflect.Map || rv.Type().Key().Kind() != reflect.String {
		return a
	}
	keys := make([]string, 0, rv.Len())
	for _, k := range rv.MapKeys() {
		keys = append(keys, k.String())
	}
	sort.Strings(keys)
	attrs := make([]slog.Attr, 0, len(keys))
	for _, k := range keys {
		attrs = append(attrs, mapAsGroup(slog.Any(k, rv.MapIndex(reflect.ValueOf(k).Convert(rv.Type().Key())).Interface())))
	}
	if len(attrs) == 0 {
		return slog.String(a.Key, "{}") // an empty group would vanish
	}
	return slog.Attr{Key: a.Key, Value: slog.GroupValue(attrs...)}
}

// record writes one JSON object on its own line, shaped like a log record
// (time, level, msg), for the places that would otherwise print text to a
// stream that is not a terminal.
func record(w io.Writer, level slog.Level, msg string, fields map[string]any) {
	m := map[string]any{"time": time.Now().Format(time.RFC3339Nano), "level": level.String(), "msg": msg}
	for k, v := range fields {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		b, _ = json.Marshal(map[string]any{"level": "ERROR", "msg": msg, "err": fmt.Sprint(err)})
	}
	w.Write(append(b, '\n'))
}

// routeStdlibLog sends the standard library's logger (package log) into
// logger, at warning level: net/http writes there ("Unsolicited response
// received on idle HTTP channel…" from a transport, accept errors from a
// server without ErrorLog), and such a line must be a record like every
// other, not plain text among JSON. Package log is process-wide, so this
// is the one global the CLI sets.
func routeStdlibLog(logger *slog.Logger) {
	log.SetFlags(0)
	log.SetPrefix("")
	log.SetOutput(slog.NewLogLogger(logger.Handler(), slog.LevelWarn).Writer())
}
