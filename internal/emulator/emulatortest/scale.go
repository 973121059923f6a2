package emulatortest

import (
	"bufio"
	"fmt"
	"os"
)

// WriteScaleCSV writes the scale benchmarks' source: spaces × perSpace
// distinct people (spaces/S00000, user0000000@example.com, ...), the first
// of each space its owner. `syncer emulator --seed-converged` turns the same
// file into a converged world.
func WriteScaleCSV(path string, spaces, perSpace int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString("space,member,role\n")
	for s := 0; s < spaces; s++ {
		for m := 0; m < perSpace; m++ {
			role := ""
			if m == 0 {
				role = "owner"
			}
			fmt.Fprintf(w, "spaces/S%05d,user%07d@example.com,%s\n", s, s*perSpace+m, role)
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}
