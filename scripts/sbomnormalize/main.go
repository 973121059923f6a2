// Command sbomnormalize removes from a CycloneDX JSON SBOM what depends on the
// machine that wrote it rather than on what it describes: the hashes of the
// generating tool's own executable (cyclonedx-gomod hashes itself, and that
// executable differs between a linux and a darwin build host). With it, the
// same release gives the same SBOM bytes on any host. Everything else is kept,
// in its order and formatting.
//
//	go run ./scripts/sbomnormalize FILE.cdx.json
//
// It rewrites FILE in place. It is part of `make release` (scripts/release.sh), not of the syncer.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: sbomnormalize FILE.cdx.json")
		os.Exit(2)
	}
	if err := normalize(os.Args[1]); err != nil {
		fmt.Fprintf(os.Stderr, "sbomnormalize: %v\n", err)
		os.Exit(1)
	}
}

func normalize(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	doc, err := decode(dec)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	root, ok := doc.(object)
	if !ok {
		return fmt.Errorf("%s: not a JSON object", path)
	}
	if metadata, ok := root.get("metadata").(object); ok {
		if tools, ok := metadata.get("tools").([]any); ok {
			for i, tool := range tools {
				if t, ok := tool.(object); ok {
					tools[i] = t.without("hashes")
				}
			}
		}
	}
	compact, err := json.Marshal(root)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, compact, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	return os.WriteFile(path, out.Bytes(), 0o644)
}

// object is a JSON object with its keys in the order they were read.
type object []member

type member struct {
	key   string
	value any
}

func (o object) get(key string) any {
	for _, m := range o {
		if m.key == key {
			return m.value
		}
	}
	return nil
}

func (o object) without(key string) object {
	var kept object
	for _, m := range o {
		if m.key != key {
			kept = append(kept, m)
		}
	}
	return kept
}

func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(m.key)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(m.value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// decode reads one JSON value, objects as ordered objects; the input must hold
// nothing after it.
func decode(dec *json.Decoder) (any, error) {
	v, err := value(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("data after the JSON value")
	}
	return v, nil
}

func value(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		o := object{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := value(dec)
			if err != nil {
				return nil, err
			}
			o = append(o, member{key: k.(string), value: v})
		}
		_, err := dec.Token() // }
		return o, err
	case json.Delim('['):
		a := []any{}
		for dec.More() {
			v, err := value(dec)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err := dec.Token() // ]
		return a, err
	}
	return tok, nil
}
