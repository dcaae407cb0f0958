package capture

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
)

// RepairReport says what Repair found and did.
type RepairReport struct {
	Packets int   // whole packets in the file, all kept
	Size    int64 // the file's size before
	Kept    int64 // its size after: Size when there was nothing to trim
}

// Trimmed reports whether Repair cut a partial tail off.
func (r RepairReport) Trimmed() bool { return r.Kept < r.Size }

// Repair trims the partial last block or record that a writer killed
// mid-write leaves (see the package comment: the kernel may stop a
// write(2) between pages), so that every tool reads the file to its end;
// tshark, for one, fails on such a file ("cut short"). A file without a
// cut tail is left as it is. A file that is broken anywhere else, or is
// not a capture, is left as it is too, and the error says where reading
// stopped: Repair only removes what a kill can leave, less than one block
// after the last whole one (ErrTruncated). A length field that runs past
// the end of the file over whole blocks is corrupt, not cut, and trimming
// there would throw those blocks away. Run it on a file no hub is still
// writing.
//
// Anything but a regular file is refused before it is opened: opening a
// named pipe for reading and writing, as trimming needs, succeeds with no
// writer, and since Repair would then hold the write end itself, its read
// would wait for good; a device has no tail to trim.
func Repair(path string) (RepairReport, error) {
	var rep RepairReport
	fi, err := os.Stat(path)
	if err != nil {
		return rep, err
	}
	if err := notRegular(path, fi); err != nil {
		return rep, err
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return rep, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return rep, err
	}
	if err := notRegular(path, fi); err != nil { // the path changed since the first look
		return rep, err
	}
	rep.Size, rep.Kept = fi.Size(), fi.Size()
	rd, err := NewReader(bufio.NewReaderSize(f, 1<<20), ReadOptions{})
	if err != nil {
		if errors.Is(err, ErrTruncated) {
			return rep, fmt.Errorf("%s: %w: the file ends inside its header; nothing whole to keep", path, err)
		}
		return rep, fmt.Errorf("%s: %w", path, err)
	}
	for {
		_, err := rd.Next()
		if err == io.EOF {
			return rep, nil
		}
		var re *ReadError
		if err != nil && (!errors.Is(err, ErrTruncated) || !errors.As(err, &re)) {
			return rep, fmt.Errorf("%s: %w; not a cut tail, so nothing was changed", path, err)
		}
		if err != nil {
			if re.Offset+re.Tail != rep.Size {
				return rep, fmt.Errorf("%s: %w, but the file has %d bytes from there (it changed while read?); nothing was changed", path, err, rep.Size-re.Offset)
			}
			if err := f.Truncate(re.Offset); err != nil {
				return rep, fmt.Errorf("%s: trim the cut tail: %w", path, err)
			}
			rep.Kept = re.Offset
			if err := f.Sync(); err != nil {
				return rep, fmt.Errorf("%s: %w", path, err)
			}
			return rep, nil
		}
		rep.Packets++
	}
}

// notRegular returns the error Repair refuses path with when fi, path's
// file, is not a regular file, naming what it is.
func notRegular(path string, fi os.FileInfo) error {
	var what string
	switch m := fi.Mode(); {
	case m.IsRegular():
		return nil
	case m&os.ModeNamedPipe != 0:
		what = "a named pipe"
	case m&os.ModeCharDevice != 0:
		what = "a character device"
	case m&os.ModeDevice != 0:
		what = "a block device"
	case m.IsDir():
		what = "a directory"
	case m&os.ModeSocket != 0:
		what = "a socket"
	default:
		what = "an irregular file"
	}
	return fmt.Errorf("%s: not a regular file (%s): repair works on a capture file", path, what)
}

// String says what Repair did to the file, as `l2hub capture repair`
// prints it after the file's name.
func (r RepairReport) String() string {
	if r.Trimmed() {
		return fmt.Sprintf("trimmed a cut last block (%d bytes); %d whole frames, %d bytes", r.Size-r.Kept, r.Packets, r.Kept)
	}
	return fmt.Sprintf("nothing to repair; %d whole frames", r.Packets)
}
