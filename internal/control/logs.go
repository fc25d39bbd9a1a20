package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// LogQuery selects a unit's log records: GET /v1/units/NAME/log with
// ?lines=N&since=RFC3339&follow=1. The answer is one JSON record per
// line (application/x-ndjson); with Follow it goes on, record by record,
// until the client hangs up or sockd stops.
type LogQuery struct {
	Lines  int       // the last N records; 0: all that sockd kept
	Since  time.Time // none older; zero: no limit
	Follow bool      // then the records as they come
}

// Values encodes q as the query string of the log request.
func (q LogQuery) Values() url.Values {
	v := url.Values{}
	if q.Lines > 0 {
		v.Set("lines", strconv.Itoa(q.Lines))
	}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.Format(time.RFC3339Nano))
	}
	if q.Follow {
		v.Set("follow", "1")
	}
	return v
}

// ParseLogQuery decodes the query string of a log request.
func ParseLogQuery(v url.Values) (LogQuery, error) {
	var q LogQuery
	var err error
	if s := v.Get("lines"); s != "" {
		if q.Lines, err = strconv.Atoi(s); err != nil || q.Lines < 0 {
			return q, fmt.Errorf("lines=%q: want a number of records", s)
		}
	}
	if s := v.Get("since"); s != "" {
		if q.Since, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return q, fmt.Errorf("since=%q: want an RFC 3339 time", s)
		}
	}
	q.Follow = v.Get("follow") == "1" || v.Get("follow") == "true"
	return q, nil
}

// Log streams a unit's log records to each, oldest first, until the
// records kept are done or, with q.Follow, until ctx is done (then it
// returns nil) or sockd stops.
func (c *Client) Log(ctx context.Context, name string, q LogQuery, each func(LogRecord)) error {
	path := "/v1/units/" + url.PathEscape(name) + "/log"
	if v := q.Values().Encode(); v != "" {
		path += "?" + v
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://sockd"+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return c.transportErr(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		e := &Error{}
		if json.Unmarshal(data, e) != nil || e.Message == "" {
			e.Message = fmt.Sprintf("sockd answered %s: %s", resp.Status, bytes.TrimSpace(data))
		}
		e.Status = resp.StatusCode
		return e
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var rec LogRecord
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return fmt.Errorf("malformed log record from sockd: %w", err)
		}
		each(rec)
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("reading sockd's log: %w", err)
	}
	return nil
}
