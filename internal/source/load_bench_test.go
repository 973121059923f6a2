package source_test

import (
	"path/filepath"
	"testing"

	"github.com/syncer-dev/syncer/internal/emulator/emulatortest"
	"github.com/syncer-dev/syncer/internal/source"
)

// BenchmarkLoadCSV1M reads the scale benchmarks' 1,000,000-row export
// (10,000 spaces of 100) as every run and `syncer validate` do. Its B/op
// is the garbage a big tenant's run starts with.
func BenchmarkLoadCSV1M(b *testing.B) {
	const spaces, perSpace = 10_000, 100
	path := filepath.Join(b.TempDir(), "members.csv")
	if err := emulatortest.WriteScaleCSV(path, spaces, perSpace); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, err := source.Load([]source.Spec{{Path: path}})
		if err != nil {
			b.Fatal(err)
		}
		if d.Count() != spaces*perSpace || len(d.Spaces) != spaces {
			b.Fatalf("loaded %d memberships in %d spaces", d.Count(), len(d.Spaces))
		}
	}
}
