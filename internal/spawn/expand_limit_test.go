package spawn

import (
	"errors"
	"strings"
	"testing"
)

// TestExpandArgvIsCapped is finding 8 of issue 16: ${VAR} expansion in
// Exec*= lines had no size cap, so a line of many ${BIG} could take
// gigabytes. Past MaxArgvBytes it fails instead, whichever form makes
// the line long; just under it, it works.
func TestExpandArgvIsCapped(t *testing.T) {
	big := "BIG=" + strings.Repeat("x", 1<<20) // 1 MiB
	env := []string{big, "WORDS=" + strings.Repeat("w ", 1<<20)}
	for _, argv := range [][]string{
		{"/bin/echo", strings.Repeat("${BIG}", 1000)}, // one huge word
		{"/bin/echo", "${BIG}", "${BIG}", "${BIG}"},   // many big words
		{"/bin/echo", "$BIG", "$BIG", "$BIG"},         // split words
		{"/bin/echo", "$WORDS", "$WORDS"},             // many small words
	} {
		got, err := ExpandArgv(argv, env)
		if !errors.Is(err, ErrArgvTooLong) || got != nil {
			t.Errorf("ExpandArgv(%.40q…): %d words, %v; want ErrArgvTooLong", argv, len(got), err)
		}
	}
	got, err := ExpandArgv([]string{"/bin/echo", "${BIG}"}, env)
	if err != nil || len(got) != 2 || len(got[1]) != 1<<20 {
		t.Errorf("ExpandArgv of one 1 MiB word: %d words, %v", len(got), err)
	}
}
