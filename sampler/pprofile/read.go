package pprofile

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"

	"github.com/google/pprof/profile"
)

// DefaultMaxProfileSize caps the size of one profile, after decompression
// (256 MiB). Real heap and goroutine profiles are far smaller — tens of
// megabytes for a service with a hundred thousand stacks — while a gzip
// stream of zeros inflates a thousandfold: the cap is what keeps a hostile
// or corrupt profile from taking the host's memory.
const DefaultMaxProfileSize = 256 << 20

// ErrTooLarge is returned, wrapped with the file or URL, for a profile
// larger than the size limit once decompressed.
var ErrTooLarge = errors.New("profile too large")

// ErrNotProfile is wrapped, with the file or URL, by the error for bytes
// that do not parse as a pprof profile (a README, a JSON report, an empty
// file, an HTML error page).
var ErrNotProfile = errors.New("not a valid pprof profile")

// gzipMagic starts every gzip stream (RFC 1952).
var gzipMagic = []byte{0x1f, 0x8b}

// readProfile reads one pprof profile from r within limit bytes, both as
// read and once decompressed, and parses it. It returns the bytes as read
// (to save them unchanged) and the profile. name is the file or URL, and
// as says how it was read ("as stored", "as received"), for errors.
//
// profile.Parse would decompress on its own, without a bound: the gzip
// layer is removed here, through the cap, and profile.ParseData is given
// the inflated bytes.
func readProfile(r io.Reader, limit int64, name, as string) ([]byte, *profile.Profile, error) {
	tooLarge := func(what string) error {
		return fmt.Errorf("%s: %w: more than %d bytes %s", name, ErrTooLarge, limit, what)
	}
	raw, over, err := readAtMost(r, limit)
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if over {
		return nil, nil, tooLarge(as)
	}
	data := raw
	if bytes.HasPrefix(raw, gzipMagic) {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w: %w", name, ErrNotProfile, err)
		}
		data, over, err = readAtMost(zr, limit)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w: %w", name, ErrNotProfile, err)
		}
		if over {
			return nil, nil, tooLarge("once decompressed")
		}
		// ParseData would inflate a second gzip layer without the cap;
		// pprof never writes one.
		if bytes.HasPrefix(data, gzipMagic) {
			return nil, nil, fmt.Errorf("%s: %w: gzip inside gzip", name, ErrNotProfile)
		}
	}
	p, err := profile.ParseData(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w: %w", name, ErrNotProfile, err)
	}
	symbolizeLegacy(data, p)
	return raw, p, nil
}

// readAtMost reads r to its end unless it holds more than limit bytes
// (over). It reads into chunks that grow to a few MiB and joins them only
// at the end: refusing an oversized input costs about limit bytes, where
// io.ReadAll's growing buffer would peak at about twice that.
func readAtMost(r io.Reader, limit int64) (b []byte, over bool, err error) {
	var chunks [][]byte
	var total int64
	size := 64 << 10
	for {
		c := make([]byte, size)
		n, err := io.ReadFull(r, c)
		total += int64(n)
		if total > limit {
			return nil, true, nil
		}
		chunks = append(chunks, c[:n])
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return nil, false, err
		}
		size = min(2*size, 4<<20)
	}
	if len(chunks) == 1 {
		return chunks[0], false, nil
	}
	b = make([]byte, 0, total)
	for _, c := range chunks {
		b = append(b, c...)
	}
	return b, false, nil
}
