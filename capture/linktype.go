package capture

import "fmt"

// LinkType is a pcap/pcapng link-layer header type (LINKTYPE_*, 16 bits in
// pcapng). l2hub writes only Ethernet; readers pass any type through.
type LinkType uint16

// Link types a reader is likely to meet; see the tcpdump.org list for the rest.
const (
	LinkTypeNull            LinkType = 0
	LinkTypeEthernet        LinkType = 1
	LinkTypePPP             LinkType = 9
	LinkTypeRaw             LinkType = 101
	LinkTypeIEEE802_11      LinkType = 105
	LinkTypeLoop            LinkType = 108
	LinkTypeLinuxSLL        LinkType = 113
	LinkTypeRadiotap        LinkType = 127
	LinkTypeUSBLinuxMmap    LinkType = 220
	LinkTypeIPv4            LinkType = 228
	LinkTypeIPv6            LinkType = 229
	LinkTypeNetlink         LinkType = 253
	LinkTypeLinuxSLL2       LinkType = 276
	LinkTypeEthernetMPacket LinkType = 274

	// LinkTypeNotPacket is no link type: a Reader gives it to the records
	// of a pcapng file that are not packets, which Wireshark numbers as
	// frames (Packet.Block).
	LinkTypeNotPacket LinkType = 0xffff
)

var linkTypeNames = map[LinkType]string{
	LinkTypeNull:            "NULL",
	LinkTypeEthernet:        "ETHERNET",
	LinkTypePPP:             "PPP",
	LinkTypeRaw:             "RAW",
	LinkTypeIEEE802_11:      "IEEE802_11",
	LinkTypeLoop:            "LOOP",
	LinkTypeLinuxSLL:        "LINUX_SLL",
	LinkTypeRadiotap:        "IEEE802_11_RADIOTAP",
	LinkTypeUSBLinuxMmap:    "USB_LINUX_MMAPPED",
	LinkTypeIPv4:            "IPV4",
	LinkTypeIPv6:            "IPV6",
	LinkTypeNetlink:         "NETLINK",
	LinkTypeEthernetMPacket: "ETHERNET_MPACKET",
	LinkTypeLinuxSLL2:       "LINUX_SLL2",
	LinkTypeNotPacket:       "NOT_A_PACKET",
}

// String returns the LINKTYPE_ name without its prefix ("ETHERNET"), or
// "LINKTYPE_276"-style text for a type this package does not name.
func (t LinkType) String() string {
	if n, ok := linkTypeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("LINKTYPE_%d", uint16(t))
}
