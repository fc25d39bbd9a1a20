// Package logring keeps the last few log records of every unit, for
// `sockctl status`. Install it as a slog.Handler wrapper in front of
// sockd's real handler: every record that carries an attribute
// unit=NAME.socket, NAME.service or NAME@INSTANCE.service (as a record
// attribute or through Logger.With) is also remembered under NAME.
package logring

import (
	"context"
	"log/slog"
	"strings"
	"sync"

	"github.com/sockd/sockd/internal/control"
)

// DefaultSize is how many records a Ring keeps per unit by default.
const DefaultSize = 10

// Ring holds the last records of each unit. It is safe for concurrent use.
type Ring struct {
	size   int
	mu     sync.Mutex
	bufs   map[string]*buffer
	follow map[string]map[*follower]bool // key → its followers (follow.go)
}

type buffer struct {
	recs  []control.LogRecord // grows to the Ring's size, then circular
	next  int
	count int
}

// New returns a Ring keeping size records per unit (DefaultSize if
// size <= 0).
func New(size int) *Ring {
	if size <= 0 {
		size = DefaultSize
	}
	return &Ring{size: size, bufs: map[string]*buffer{}}
}

// Key returns the name a unit's records are kept under: the socket unit's
// name without suffix and instance ("web.socket", "web.service" and
// "web@1.service" all give "web"). A bare name is returned unchanged.
func Key(unit string) string {
	if i := strings.LastIndexByte(unit, '.'); i > 0 {
		switch unit[i+1:] {
		case "socket", "service":
			unit = unit[:i]
		}
	}
	if i := strings.IndexByte(unit, '@'); i > 0 {
		unit = unit[:i]
	}
	return unit
}

// Add remembers rec under unit's key.
func (r *Ring) Add(unit string, rec control.LogRecord) {
	key := Key(unit)
	if key == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.bufs[key]
	if b == nil {
		b = &buffer{}
		r.bufs[key] = b
	}
	if len(b.recs) < r.size { // still growing: no wrap yet
		b.recs = append(b.recs, rec)
		b.count = len(b.recs)
		b.next = len(b.recs) % r.size
	} else {
		b.recs[b.next] = rec
		b.next = (b.next + 1) % len(b.recs)
	}
	r.publish(key, rec)
}

// Records returns the records of unit (any spelling Key accepts), oldest
// first.
func (r *Ring) Records(unit string) []control.LogRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.recordsLocked(unit)
}

func (r *Ring) recordsLocked(unit string) []control.LogRecord {
	b := r.bufs[Key(unit)]
	if b == nil {
		return nil
	}
	out := make([]control.LogRecord, 0, b.count)
	start := (b.next - b.count + len(b.recs)) % len(b.recs)
	for i := 0; i < b.count; i++ {
		out = append(out, b.recs[(start+i)%len(b.recs)])
	}
	return out
}

// Handler returns a slog.Handler that passes every record on to next and
// remembers those that name a unit.
func (r *Ring) Handler(next slog.Handler) slog.Handler {
	return &handler{ring: r, next: next}
}

type handler struct {
	ring   *Ring
	next   slog.Handler
	unit   string           // from WithAttrs
	attrs  control.LogAttrs // other WithAttrs attributes
	prefix string           // group prefix for attribute keys
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, rec slog.Record) error {
	unit := h.unit
	var attrs control.LogAttrs
	attrs = append(attrs, h.attrs...)
	rec.Attrs(func(a slog.Attr) bool {
		if h.prefix == "" && a.Key == "unit" {
			unit = a.Value.String()
			return true
		}
		attrs = appendAttr(attrs, h.prefix, a)
		return true
	})
	if unit != "" {
		h.ring.Add(unit, control.LogRecord{Time: rec.Time, Level: rec.Level.String(), Message: rec.Message, Attrs: attrs})
	}
	return h.next.Handle(ctx, rec)
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	h2 := *h
	h2.next = h.next.WithAttrs(as)
	h2.attrs = append(control.LogAttrs(nil), h.attrs...)
	for _, a := range as {
		if h.prefix == "" && a.Key == "unit" {
			h2.unit = a.Value.String()
			continue
		}
		h2.attrs = appendAttr(h2.attrs, h.prefix, a)
	}
	return &h2
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.next = h.next.WithGroup(name)
	h2.prefix = h.prefix + name + "."
	return &h2
}

func appendAttr(out control.LogAttrs, prefix string, a slog.Attr) control.LogAttrs {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range v.Group() {
			out = appendAttr(out, p, g)
		}
		return out
	}
	if a.Key == "" {
		return out
	}
	return append(out, control.LogAttr{Key: prefix + a.Key, Value: jsonValue(v)})
}
