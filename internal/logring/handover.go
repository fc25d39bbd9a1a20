package logring

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/sockd/sockd/internal/control"
)

// Save writes every unit's records, for the next image of sockd after an
// upgrade (Load reads them).
func (r *Ring) Save(w io.Writer) error {
	r.mu.Lock()
	all := make(map[string][]control.LogRecord, len(r.bufs))
	for key := range r.bufs {
		all[key] = r.recordsLocked(key)
	}
	r.mu.Unlock()
	return json.NewEncoder(w).Encode(all)
}

// Load adds the records Save wrote, before any record of this image.
func (r *Ring) Load(rd io.Reader) error {
	var all map[string][]control.LogRecord
	if err := json.NewDecoder(rd).Decode(&all); err != nil {
		return fmt.Errorf("logring: reading the saved records: %w", err)
	}
	for key, recs := range all {
		saved := append([]control.LogRecord(nil), recs...)
		r.mu.Lock()
		if b := r.bufs[key]; b != nil { // records of this image came first: put them after
			saved = append(saved, r.recordsLocked(key)...)
			delete(r.bufs, key)
		}
		r.mu.Unlock()
		for _, rec := range saved {
			r.Add(key, rec)
		}
	}
	return nil
}
