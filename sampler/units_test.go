package sampler

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUnits(t *testing.T) {
	tests := []struct {
		name                 string
		objects, bytes, rate int64
		want                 int64
	}{
		{"small objects count one each", 10, 640, 512 << 10, 10},
		{"an object the size of the rate is one", 1, 512 << 10, 512 << 10, 1},
		{"a grown slice counts its bytes", 1, 64 << 20, 512 << 10, 128},
		{"two large objects", 2, 3 << 20, 1 << 20, 3},
		{"every event recorded", 5, 5 << 30, 1, 5},
		{"nothing", 0, 0, 512 << 10, 0},
		{"negative is nothing", -3, 100, 512 << 10, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, Units(tc.objects, tc.bytes, tc.rate))
		})
	}
}
