package serve

// DropReasons is dropReasons, for a test of the series each transport
// pre-declares.
var DropReasons = dropReasons
