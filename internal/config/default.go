package config

import _ "embed"

//go:embed default.yaml
var defaultYAML []byte

// DefaultName is the source name of the embedded default in messages.
const DefaultName = "embedded default"

// DefaultYAML returns the embedded default config's text.
func DefaultYAML() []byte { return append([]byte(nil), defaultYAML...) }

// Default returns the embedded default config: target
// iqn.2026-11.io.halun:default with LUN 0 = volume "default", a 1 GiB thin
// file volume <dataDir>/default.img, on portal group 1 at listen. Empty
// arguments mean DefaultDataDir and DefaultListen.
func Default(dataDir, listen string) (*Config, error) {
	if dataDir == "" {
		dataDir = DefaultDataDir
	}
	if listen == "" {
		listen = DefaultListen
	}
	return ParseWith(DefaultName, defaultYAML, Overrides{DataDir: dataDir, Listen: listen})
}
