package logring

import (
	"encoding/json"
	"log/slog"
	"time"
)

// jsonValue converts a resolved slog value to what encoding/json writes
// for it, as slog's JSONHandler does: numbers and booleans as such,
// durations as text ("1.5s"), errors by their message.
func jsonValue(v slog.Value) any {
	switch v.Kind() {
	case slog.KindInt64:
		return v.Int64()
	case slog.KindUint64:
		return v.Uint64()
	case slog.KindFloat64:
		return v.Float64()
	case slog.KindBool:
		return v.Bool()
	case slog.KindTime:
		return v.Time().Format(time.RFC3339Nano)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return x.Error()
		case json.Marshaler:
			if _, err := x.MarshalJSON(); err == nil {
				return x
			}
		}
	}
	return v.String()
}
