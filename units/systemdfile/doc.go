// Package systemdfile reads a systemd socket unit (NAME.socket) and the
// service it activates (NAME.service, or NAME@.service with Accept=yes),
// with their drop-ins, into sockd's unit model (package units).
//
// It owns three things:
//
//   - The lexer (Lex), which splits a unit file into Section/Key=Value
//     assignments following systemd.syntax(7)
//     (https://www.freedesktop.org/software/systemd/man/systemd.syntax.html)
//     as systemd's config_parse() in src/shared/conf-parser.c implements
//     it. What the values mean (quoting, escapes, specifiers, empty values
//     that reset a list) is package units' business, not the lexer's.
//   - The search path (DirFinder): which file defines a unit, and which
//     drop-ins apply, as systemd.unit(5)
//     (https://www.freedesktop.org/software/systemd/man/systemd.unit.html)
//     describes, with later directories overriding earlier ones.
//   - Loading (Load): the socket file and its drop-ins, then the service
//     the socket names and its drop-ins, applied through units.Builder.
//
// # Syntax
//
// The lexer matches systemd 252 and later, line for line:
//
//   - Lines end at "\n", "\r", "\r\n" or "\n\r" (systemd's read_line()).
//   - A line whose first non-blank character is "#" or ";" is a comment,
//     also in the middle of a continuation, where it is skipped and does
//     not end the continuation. A comment never continues.
//   - A line ending in an odd number of backslashes continues: the last
//     backslash becomes a space and the next line is appended as it is,
//     indentation included. A blank line ends a continuation. A file may
//     end inside a continuation.
//   - "[Name]" starts a section; repeated sections simply continue. The
//     header must end in "]" and the name must not hold control
//     characters, quotes or backslashes.
//   - "Key=Value" splits at the first "="; spaces, tabs and CRs around the
//     line, the key and the value are removed.
//   - A UTF-8 byte order mark is skipped at the start of a line, until one
//     has been seen (so a "#" behind it does not start a comment).
//   - A physical line may hold up to 1048575 bytes and a continued line
//     1048576 (systemd's LONG_LINE_MAX); a longer one abandons the file.
//
// Where systemd warns and ignores a line, sockd refuses it: a line
// without "=", a key missing before "=", an assignment before the first
// section header, a line that is not UTF-8, and a NUL byte (which systemd
// takes as the end of the line; sockd does too, for its line numbers,
// and reports it). After an invalid section header, systemd gives up on
// the file; sockd reports the header and drops the assignments up to the
// next valid header, so that one pass shows every problem.
//
// Errors name the file and line ("web.socket:7: missing '=': …"). An
// assignment continued over several lines is reported at its first line;
// systemd reports its last one (or one past the end of the file).
//
// # Units and masking
//
// A unit file that is a symlink to /dev/null (any character device) or is
// empty is masked, as in systemd: Load returns an error wrapping
// ErrMasked, for the socket unit itself or for the service it activates.
// Drop-ins that are symlinks to /dev/null remove a drop-in of the same
// name from an earlier directory. Template socket units (NAME@.socket)
// are refused with an error; prefix drop-ins ("foo-.socket.d") and type
// drop-ins ("socket.d") are not read.
package systemdfile
