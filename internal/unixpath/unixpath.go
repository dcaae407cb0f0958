package unixpath

import "syscall"

// MaxLen is the longest path, in bytes, a unix socket can be bound or
// dialled at: sun_path less its terminating NUL (107 on Linux, 103 on
// macOS and the BSDs, where Go refuses a name that fills sun_path). A
// relative path counts as written: it is what the kernel receives. Linux's
// abstract names ("@name", no NUL) are not paths and may take one more.
const MaxLen = len(syscall.RawSockaddrUnix{}.Path) - 1
