package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/sockd/sockd/internal/daemon"
)

// serve runs the daemon in the foreground until SIGTERM or SIGINT.
func serve(o options, stderr io.Writer) int {
	log, err := newLogger(o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "sockd:", err)
		return 2
	}
	runtimeDir, err := resolveRuntimeDir(o.runtimeDir)
	if err != nil {
		fmt.Fprintln(stderr, "sockd:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	d, err := daemon.New(daemon.Config{UnitDirs: o.unitDirs, RuntimeDir: runtimeDir, Log: log})
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	if err := d.Run(ctx); err != nil {
		log.Error("stopped with an error", "err", err)
		return 1
	}
	return 0
}

func newLogger(o options, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch o.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: want text or json, not %q", o.logFormat)
}

// resolveRuntimeDir picks the runtime directory: the flag, else
// $SOCKD_RUNTIME_DIR, else /run/sockd for root and
// $XDG_RUNTIME_DIR/sockd for other users.
func resolveRuntimeDir(flagValue string) (string, error) {
	dir := flagValue
	if dir == "" {
		dir = os.Getenv("SOCKD_RUNTIME_DIR")
	}
	if dir == "" && os.Getuid() == 0 {
		dir = "/run/sockd"
	}
	if dir == "" {
		xdg := os.Getenv("XDG_RUNTIME_DIR")
		if xdg == "" {
			return "", fmt.Errorf("no runtime directory: pass --runtime-dir or set SOCKD_RUNTIME_DIR or XDG_RUNTIME_DIR")
		}
		dir = filepath.Join(xdg, "sockd")
	}
	return filepath.Abs(dir)
}
