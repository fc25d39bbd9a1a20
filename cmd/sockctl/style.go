package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// style decides colour and symbols: only when stdout is a terminal (and
// $NO_COLOR is unset, and $TERM is not "dumb").
type style struct{ tty bool }

func styleFor(w io.Writer) style {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return style{}
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return style{tty: err == nil}
}

const (
	green = "\x1b[0;1;32m"
	red   = "\x1b[0;1;31m"
	bold  = "\x1b[0;1;39m"
	reset = "\x1b[0m"
)

func (s style) color(code, text string) string {
	if !s.tty {
		return text
	}
	return code + text + reset
}

// stateColor colours an active state as systemctl does.
func (s style) stateColor(active, text string) string {
	switch active {
	case "active":
		return s.color(green, text)
	case "failed":
		return s.color(red, text)
	}
	return text
}

// dot is the "● " before a unit name, coloured by its state; nothing
// when stdout is not a terminal.
func (s style) dot(active string) string {
	if !s.tty {
		return ""
	}
	switch active {
	case "active", "activating", "deactivating":
		return s.color(green, "●") + " "
	case "failed":
		return s.color(red, "×") + " "
	}
	return "○ "
}

// since formats a time as systemctl does: "Tue 2025-11-25 17:20:01 UTC; 3s ago".
func since(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format("Mon 2006-01-02 15:04:05 MST") + "; " + ago(now.Sub(t)) + " ago"
}

func ago(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dmin %ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh %dmin", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd %dh", int(d.Hours())/24, int(d.Hours())%24)
}
