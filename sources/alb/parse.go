package alb

import "bytes"

// ParseError says why a line is not an entry. Reason is a short, stable word
// used as a metric label.
type ParseError struct {
	Reason string
}

func (e *ParseError) Error() string { return "malformed ALB log entry: " + e.Reason }

// The reasons a line is skipped. They are values, so Parse never allocates.
var (
	ErrTooFewFields      = &ParseError{Reason: "too_few_fields"}
	ErrUnterminatedQuote = &ParseError{Reason: "unterminated_quote"}
	ErrBadQuoting        = &ParseError{Reason: "bad_quoting"}
	ErrBadTime           = &ParseError{Reason: "bad_time"}
	ErrBadStatus         = &ParseError{Reason: "bad_status_code"}
	ErrBadTiming         = &ParseError{Reason: "bad_processing_time"}
)

// Reasons lists every ParseError reason.
var Reasons = []string{
	ErrTooFewFields.Reason, ErrUnterminatedQuote.Reason, ErrBadQuoting.Reason,
	ErrBadTime.Reason, ErrBadStatus.Reason, ErrBadTiming.Reason,
}

// Parse reads one log line (without its newline) into e. The fields of e
// point into line. It scans bytes once and does not allocate.
//
// Fields are separated by one space; a field that starts with a double quote
// runs to the next unescaped double quote (ALB escapes " as \x22, but a
// backslash is treated as an escape anyway). Fields past the known ones are
// counted in e.Extra and ignored.
func Parse(line []byte, e *Entry) error {
	e.line, e.n, e.Extra = line, 0, 0
	i := 0
	for i < len(line) {
		var start, end int
		if line[i] == '"' {
			j := quoteEnd(line, i+1)
			if j < 0 {
				return ErrUnterminatedQuote
			}
			start, end = i+1, j
			i = j + 1
			if i < len(line) && line[i] != ' ' {
				return ErrBadQuoting
			}
		} else {
			j := bytes.IndexByte(line[i:], ' ')
			if j < 0 {
				j = len(line) - i
			}
			start, end = i, i+j
			i += j
		}
		if e.n < int(NumFields) {
			e.spans[e.n] = [2]int32{int32(start), int32(end)}
			e.n++
		} else {
			e.Extra++
		}
		i++ // the separating space
	}
	if e.n < MinFields {
		return ErrTooFewFields
	}

	var ok bool
	if e.unixMicros, ok = parseTime(e.field(FieldTime)); !ok {
		return ErrBadTime
	}
	if e.elbStatus, ok = parseStatus(e.field(FieldELBStatusCode)); !ok {
		return ErrBadStatus
	}
	if e.targetStatus, ok = parseStatus(e.field(FieldTargetStatusCode)); !ok {
		return ErrBadStatus
	}
	for k, f := range [3]Field{FieldRequestProcessingTime, FieldTargetProcessingTime, FieldResponseProcessingTime} {
		if e.timings[k], ok = parseTiming(e.field(f)); !ok {
			return ErrBadTiming
		}
	}
	return nil
}

// quoteEnd finds the closing quote of a field whose content starts at
// from: the first '"' not escaped by a backslash, or -1.
func quoteEnd(line []byte, from int) int {
	// Most quoted fields are "-" or empty: no call for those.
	if from < len(line) && line[from] == '"' {
		return from
	}
	if from+1 < len(line) && line[from+1] == '"' && line[from] != '\\' {
		return from + 1
	}
	for {
		j := bytes.IndexByte(line[from:], '"')
		if j < 0 {
			return -1
		}
		j += from
		backslashes := 0
		for k := j - 1; k >= from && line[k] == '\\'; k-- {
			backslashes++
		}
		if backslashes%2 == 0 {
			return j
		}
		from = j + 1
	}
}

// parseStatus reads a 3-digit status code or "-".
func parseStatus(b []byte) (int, bool) {
	if len(b) == 1 && b[0] == '-' {
		return NoStatus, true
	}
	if len(b) != 3 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n >= 100
}

// parseTiming reads seconds with up to 6 decimals ("0.048", "12.345"), "-1"
// or "-", into microseconds.
func parseTiming(b []byte) (Timing, bool) {
	switch string(b) { // no allocation: the compiler compares in place
	case "-1":
		return NotMeasured, true
	case "-":
		return Absent, true
	}
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var whole, frac int64
	i := 0
	for ; i < len(b) && b[i] != '.'; i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		whole = whole*10 + int64(c-'0')
	}
	if i == 0 {
		return 0, false
	}
	scale := int64(1e6)
	if i < len(b) {
		i++ // the dot
		if i == len(b) {
			return 0, false
		}
		for ; i < len(b); i++ {
			c := b[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			if scale > 1 {
				scale /= 10
				frac += int64(c-'0') * scale
			}
		}
	}
	if whole > 1e9 {
		return 0, false
	}
	return Timing(whole*1e6 + frac), true
}

// parseTime reads 2018-07-02T22:23:00.186641Z (fraction optional, up to 9
// digits) into microseconds since the epoch.
func parseTime(b []byte) (int64, bool) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[len(b)-1] != 'Z' {
		return 0, false
	}
	num := func(s []byte) (int64, bool) {
		var n int64
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int64(c-'0')
		}
		return n, true
	}
	y, ok1 := num(b[0:4])
	mo, ok2 := num(b[5:7])
	d, ok3 := num(b[8:10])
	h, ok4 := num(b[11:13])
	mi, ok5 := num(b[14:16])
	s, ok6 := num(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || s > 60 {
		return 0, false
	}
	var micros int64
	rest := b[19 : len(b)-1]
	if len(rest) > 0 {
		if rest[0] != '.' || len(rest) < 2 || len(rest) > 10 {
			return 0, false
		}
		scale := int64(1e6)
		for _, c := range rest[1:] {
			if c < '0' || c > '9' {
				return 0, false
			}
			if scale > 1 {
				scale /= 10
				micros += int64(c-'0') * scale
			}
		}
	}
	secs := daysFromCivil(y, mo, d)*86400 + h*3600 + mi*60 + s
	return secs*1e6 + micros, true
}

func daysIn(y, m int64) int64 {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil is the number of days since 1970-01-01 of a proleptic
// Gregorian date (Howard Hinnant's algorithm, "chrono-Compatible Low-Level
// Date Algorithms").
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}
