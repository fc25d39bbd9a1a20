package logring

import (
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"
)

func TestTailAndFollow(t *testing.T) {
	r := New(5)
	log := slog.New(r.Handler(slog.NewTextHandler(io.Discard, nil))).With("unit", "web.service")
	for i := range 7 {
		log.Info(fmt.Sprint("line ", i))
	}
	if got := r.Tail("web", 0, time.Time{}); len(got) != 5 || got[0].Message != "line 2" {
		t.Errorf("Tail all = %v; want lines 2-6", got)
	}
	if got := r.Tail("web.socket", 2, time.Time{}); len(got) != 2 || got[1].Message != "line 6" {
		t.Errorf("Tail 2 = %v; want lines 5, 6", got)
	}
	if got := r.Tail("web", 0, time.Now().Add(time.Hour)); len(got) != 0 {
		t.Errorf("Tail since the future = %v; want none", got)
	}
	past, next, stop := r.Follow("web@1.service", 1, time.Time{})
	if len(past) != 1 || past[0].Message != "line 6" {
		t.Errorf("Follow past = %v; want line 6", past)
	}
	log.Info("line 7")
	if rec := <-next; rec.Message != "line 7" {
		t.Errorf("followed %q; want line 7", rec.Message)
	}
	stop()
	stop()
	if _, ok := <-next; ok {
		t.Error("the channel stays open after stop")
	}
	log.Info("line 8") // no follower: nothing blocks
}
