package cache

// Header field names most responses carry are stored as a one-byte index instead of their
// bytes (see Header): commonName and commonIndex map between the two, and must agree
// (TestCommonNamesRoundTrip). New names may only be appended: the index is not persisted
// (the Redis encoding writes names in full), but keep the table stable anyway.

// numCommonNames is the number of common names: indexes 0 to numCommonNames-1.
const numCommonNames = 30

// commonName returns the common name of index i, "" when there is none.
func commonName(i int) string {
	switch i {
	case 0:
		return "Accept-Ranges"
	case 1:
		return "Access-Control-Allow-Origin"
	case 2:
		return "Allow"
	case 3:
		return "Cache-Control"
	case 4:
		return "Cache-Status"
	case 5:
		return "Cache-Tag"
	case 6:
		return "Content-Disposition"
	case 7:
		return "Content-Encoding"
	case 8:
		return "Content-Language"
	case 9:
		return "Content-Length"
	case 10:
		return "Content-Location"
	case 11:
		return "Content-Range"
	case 12:
		return "Content-Security-Policy"
	case 13:
		return "Content-Type"
	case 14:
		return "Date"
	case 15:
		return "Etag"
	case 16:
		return "Expires"
	case 17:
		return "Last-Modified"
	case 18:
		return "Link"
	case 19:
		return "Location"
	case 20:
		return "Referrer-Policy"
	case 21:
		return "Retry-After"
	case 22:
		return "Server"
	case 23:
		return "Strict-Transport-Security"
	case 24:
		return "Surrogate-Key"
	case 25:
		return "Vary"
	case 26:
		return "Via"
	case 27:
		return "X-Content-Type-Options"
	case 28:
		return "X-Frame-Options"
	case 29:
		return "X-Request-Id"
	}
	return ""
}

// commonIndex returns the index of a common name, -1 for any other.
func commonIndex(name string) int {
	switch name {
	case "Accept-Ranges":
		return 0
	case "Access-Control-Allow-Origin":
		return 1
	case "Allow":
		return 2
	case "Cache-Control":
		return 3
	case "Cache-Status":
		return 4
	case "Cache-Tag":
		return 5
	case "Content-Disposition":
		return 6
	case "Content-Encoding":
		return 7
	case "Content-Language":
		return 8
	case "Content-Length":
		return 9
	case "Content-Location":
		return 10
	case "Content-Range":
		return 11
	case "Content-Security-Policy":
		return 12
	case "Content-Type":
		return 13
	case "Date":
		return 14
	case "Etag":
		return 15
	case "Expires":
		return 16
	case "Last-Modified":
		return 17
	case "Link":
		return 18
	case "Location":
		return 19
	case "Referrer-Policy":
		return 20
	case "Retry-After":
		return 21
	case "Server":
		return 22
	case "Strict-Transport-Security":
		return 23
	case "Surrogate-Key":
		return 24
	case "Vary":
		return 25
	case "Via":
		return 26
	case "X-Content-Type-Options":
		return 27
	case "X-Frame-Options":
		return 28
	case "X-Request-Id":
		return 29
	}
	return -1
}
