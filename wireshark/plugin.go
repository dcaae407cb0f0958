package wireshark

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"l2hub/internal/atomicfile"
)

// FileName is the plugin's file name.
const FileName = "nexus.lua"

// Plugin is the dissector's Lua source.
//
//go:embed nexus.lua
var Plugin []byte

// PersonalDir returns Wireshark's personal Lua plugin folder: the one
// `tshark -G folders` names when tshark is installed, else the folder
// Wireshark uses on this system by default (~/.local/lib/wireshark/plugins,
// %APPDATA%\Wireshark\plugins on Windows).
func PersonalDir() (string, error) {
	if tshark, err := exec.LookPath("tshark"); err == nil {
		if out, err := exec.Command(tshark, "-G", "folders").Output(); err == nil {
			if dir := personalLuaFolder(string(out)); dir != "" {
				return dir, nil
			}
		}
	}
	if runtime.GOOS == "windows" {
		appdata := os.Getenv("APPDATA")
		if appdata == "" {
			return "", errors.New("wireshark plugin folder: APPDATA is not set")
		}
		return filepath.Join(appdata, "Wireshark", "plugins"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("wireshark plugin folder: %w", err)
	}
	return filepath.Join(home, ".local", "lib", "wireshark", "plugins"), nil
}

// personalLuaFolder picks the "Personal Lua Plugins:" line out of
// `tshark -G folders`.
func personalLuaFolder(folders string) string {
	for line := range strings.Lines(folders) {
		name, dir, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(name) == "Personal Lua Plugins" {
			return strings.TrimSpace(dir)
		}
	}
	return ""
}

// Install writes the plugin into dir (created if missing), or with dir ""
// into the personal plugin folder (PersonalDir), as nexus.lua and returns
// the file's path. It replaces an older copy atomically, so a Wireshark
// that starts meanwhile reads either the old plugin or the new one.
func Install(dir string) (string, error) {
	if dir == "" {
		var err error
		if dir, err = PersonalDir(); err != nil {
			return "", err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("install wireshark plugin: %w", err)
	}
	path := filepath.Join(dir, FileName)
	if err := atomicfile.WriteFile(path, Plugin, 0o644); err != nil {
		return "", fmt.Errorf("install wireshark plugin: %w", err)
	}
	return path, nil
}
