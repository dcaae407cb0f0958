// Command fakeqemu stands in for QEMU in the lab runner's tests: it runs a
// script given as arguments, printing console lines, sleeping, sending
// frames to the hub over the netdev the runner gave it, and exiting when
// told. Arguments it does not know (the runner appends -netdev and
// -device) are read only for the netdev's socket and the NIC's MAC.
//
//	-say TEXT        print TEXT as a console line
//	-print TEXT      print TEXT without a newline (a prompt, or part of a line)
//	-sleep DUR       wait (a Go duration)
//	-frame KIND      send one frame: arp, syn, synack, rst, announce
//	-frames KIND N D send N frames of KIND, D apart
//	-long N          print a line of N 'x'
//	-spam N          print N numbered lines of 80 bytes ("spam line 0 ...")
//	-args            print "ARGS: " and the arguments it was given
//	-pidfile PATH    write its pid to PATH
//	-wait-file PATH  wait until PATH exists (a test telling it to go on)
//	-detach PATH     start a helper (itself, hanging) in a session of its own
//	                 that keeps the console open, its pid to PATH (as a
//	                 wrapper's `setsid helper &` would); it outlives the fake
//	-ignore-term     ignore SIGTERM from now on (only SIGKILL ends it)
//	-hang            wait forever (until a signal)
//	-exit CODE       exit with CODE
//
// At the end of the script it exits 0. On SIGTERM it prints
// "fakeqemu: terminating on signal 15", as QEMU does, and exits 0.
//
// Imports: nothing of l2hub; it is built on its own, as QEMU would be.
package main
