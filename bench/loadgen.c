// The load generator of `npm run bench`, in C so that it is never the bottleneck: one thread,
// epoll, precomputed masked frames, every echo's length, opcode and sequence tag checked.
// Built by bench/loadgen.ts (`cc -O2`, with -DHAVE_ZLIB -lz when zlib.h is there) into .bench-tmp/.
//
//   loadgen echo --port P --conns N --depth D --size S [--opcode 1|2] [--raw] [--deflate]
//                --warmup MS --duration MS
//       N connections, each keeping up to D messages of S bytes in flight (queued D/2 at a time).
//       Each payload starts with an 8-digit hex tag (its index modulo the ring of precomputed
//       frames); every echo must come back in order with its tag, its length and its opcode, or
//       the generator exits with status 2. --raw: no handshake, the echo is the masked frame
//       itself (a TCP echo server). --deflate: permessage-deflate offered and required; frames
//       compressed once each (no context used across messages, which any peer accepts), echoes
//       inflated with the connection's context and checked after inflation.
//   loadgen handshakes --port P --concurrency C --warmup MS --duration MS
//       C loops of: connect, upgrade request, 101 (accept checked), masked Close 1000, the
//       server's Close, its FIN, close.
//   loadgen serve
//       An echo server for the client figures: prints "port N", answers the handshake, echoes
//       every data frame unmasked with its opcode, a Ping with a Pong, a Close with a Close.
//
// echo and handshakes print "mark start" and "mark end" around the measured window, then one
// line "result {json}": count, bytes, seconds, cpu (this process's CPU time ÷ wall time over the
// window, 1 = its core saturated), failed.

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_ZLIB
#include <zlib.h>
#endif

#define TAG 8
#define KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
#define MAX_EVENTS 256
#define READ_SIZE (1 << 20)

static uint8_t readbuf[READ_SIZE];

static void die(const char *what) {
	fprintf(stderr, "loadgen: %s\n", what);
	exit(2);
}

static void die_errno(const char *what) {
	fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
	exit(2);
}

static double now_s(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu_s(void) {
	struct rusage u;
	getrusage(RUSAGE_SELF, &u);
	return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec / 1e6 + (double)u.ru_stime.tv_sec + (double)u.ru_stime.tv_usec / 1e6;
}

// --- Arguments --------------------------------------------------------------------------------

static int g_argc;
static char **g_argv;

static const char *arg(const char *name, const char *fallback) {
	for (int i = 2; i < g_argc; i++) {
		if (strcmp(g_argv[i], name) == 0) {
			return i + 1 < g_argc && strncmp(g_argv[i + 1], "--", 2) != 0 ? g_argv[i + 1] : "1";
		}
	}
	return fallback;
}

static long num(const char *name, long fallback) {
	const char *value = arg(name, NULL);
	return value == NULL ? fallback : strtol(value, NULL, 10);
}

// --- Sockets ----------------------------------------------------------------------------------

static int epfd;

static void set_nonblocking(int fd) {
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void no_delay(int fd) {
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static struct sockaddr_in loopback(int port) {
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static void watch(int fd, uint32_t events, void *ptr, int op) {
	struct epoll_event e = {.events = events, .data.ptr = ptr};
	if (epoll_ctl(epfd, op, fd, &e) < 0) {
		die_errno("epoll_ctl");
	}
}

static int request_head(char *out, size_t size, int port, int deflate) {
	return snprintf(out, size,
			"GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
			"Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
			port, deflate ? "Sec-WebSocket-Extensions: permessage-deflate\r\n" : "");
}

static size_t header_size(uint8_t byte1) {
	uint8_t length7 = byte1 & 0x7f;
	return 2 + (length7 == 126 ? 2 : length7 == 127 ? 8 : 0) + ((byte1 & 0x80) ? 4 : 0);
}

static uint64_t payload_length(const uint8_t *h) {
	uint8_t length7 = h[1] & 0x7f;
	if (length7 == 126) {
		return ((uint64_t)h[2] << 8) | h[3];
	}
	if (length7 == 127) {
		uint64_t n = 0;
		for (int i = 0; i < 8; i++) {
			n = (n << 8) | h[2 + i];
		}
		return n;
	}
	return length7;
}

/** Writes a frame header; returns its size. */
static size_t put_header(uint8_t *out, uint8_t byte0, uint64_t length, const uint8_t *mask) {
	size_t n = 2;
	out[0] = byte0;
	if (length >= 65536) {
		out[1] = 127;
		for (int i = 0; i < 8; i++) {
			out[2 + i] = (uint8_t)(length >> (56 - 8 * i));
		}
		n += 8;
	} else if (length >= 126) {
		out[1] = 126;
		out[2] = (uint8_t)(length >> 8);
		out[3] = (uint8_t)length;
		n += 2;
	} else {
		out[1] = (uint8_t)length;
	}
	if (mask != NULL) {
		out[1] |= 0x80;
		memcpy(out + n, mask, 4);
		n += 4;
	}
	return n;
}

// --- Echo -------------------------------------------------------------------------------------

/** The precomputed frames, back to back: frame k starts at offsets[k]. */
static uint8_t *ring;
static size_t ring_frames;
static size_t *offsets;
/** The first TAG bytes each echo must start with (the masked bytes in --raw mode). */
static uint8_t (*expected)[TAG];
static int opt_raw, opt_deflate, opt_opcode;
static uint64_t opt_size, opt_depth, opt_batch;

static uint64_t total_messages, total_bytes;

typedef struct {
	int fd;
	uint64_t queued, received, written;
	int want_out;
	// Frame parser.
	uint8_t header[14];
	size_t header_length;
	int in_payload;
	uint64_t remaining;
	int control, fin, in_message, opcode, compressed;
	uint64_t message_length;
	uint8_t tag[TAG];
	size_t tag_length;
#ifdef HAVE_ZLIB
	z_stream inflater;
#endif
} echo_conn;

static uint64_t stream_position(uint64_t frames) {
	return (frames / ring_frames) * offsets[ring_frames] + offsets[frames % ring_frames];
}

static void flush(echo_conn *c) {
	uint64_t target = stream_position(c->queued);
	// Bounded: each turn writes at least one byte or stops.
	while (c->written < target) {
		size_t at = (size_t)(c->written % offsets[ring_frames]);
		size_t n = (size_t)(target - c->written);
		if (n > offsets[ring_frames] - at) {
			n = offsets[ring_frames] - at;
		}
		ssize_t w = write(c->fd, ring + at, n);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				break;
			}
			die_errno("write");
		}
		c->written += (uint64_t)w;
	}
	int want = c->written < target;
	if (want != c->want_out) {
		c->want_out = want;
		watch(c->fd, EPOLLIN | (want ? EPOLLOUT : 0), c, EPOLL_CTL_MOD);
	}
}

static void refill(echo_conn *c) {
	while (c->queued - c->received + opt_batch <= opt_depth) {
		c->queued += opt_batch;
	}
	flush(c);
}

static void data_bytes(echo_conn *c, const uint8_t *p, size_t n) {
	if (c->tag_length < TAG) {
		size_t take = n < TAG - c->tag_length ? n : TAG - c->tag_length;
		memcpy(c->tag + c->tag_length, p, take);
		c->tag_length += take;
	}
	c->message_length += n;
}

#ifdef HAVE_ZLIB
static void inflate_bytes(echo_conn *c, const uint8_t *p, size_t n) {
	static uint8_t out[65536];
	c->inflater.next_in = (Bytef *)p;
	c->inflater.avail_in = (uInt)n;
	// Bounded: each turn consumes input or fills the output.
	for (;;) {
		c->inflater.next_out = out;
		c->inflater.avail_out = sizeof out;
		int status = inflate(&c->inflater, Z_SYNC_FLUSH);
		if (status != Z_OK && status != Z_BUF_ERROR && status != Z_STREAM_END) {
			die("inflate failed on an echo");
		}
		data_bytes(c, out, sizeof out - c->inflater.avail_out);
		if (c->inflater.avail_in == 0 && c->inflater.avail_out != 0) {
			break;
		}
	}
}
#endif

static void payload(echo_conn *c, const uint8_t *p, size_t n) {
	if (c->control) {
		return;
	}
#ifdef HAVE_ZLIB
	if (c->compressed) {
		inflate_bytes(c, p, n);
		return;
	}
#endif
	data_bytes(c, p, n);
}

static void message_end(echo_conn *c) {
	size_t k = (size_t)(c->received % ring_frames);
	size_t tag = opt_size < TAG ? (size_t)opt_size : TAG;
	if (c->opcode != opt_opcode || c->message_length != opt_size || c->tag_length != tag || memcmp(c->tag, expected[k], tag) != 0) {
		fprintf(stderr, "loadgen: echo %llu on fd %d: opcode %d, %llu bytes, tag %.*s; expected opcode %d, %llu bytes, tag %.*s\n",
				(unsigned long long)c->received, c->fd, c->opcode, (unsigned long long)c->message_length, (int)c->tag_length, (const char *)c->tag,
				opt_opcode, (unsigned long long)opt_size, (int)tag, (const char *)expected[k]);
		exit(2);
	}
	c->received++;
	c->in_message = 0;
	total_messages++;
	total_bytes += c->message_length;
}

static void frame_start(echo_conn *c, const uint8_t *h) {
	int opcode = h[0] & 0x0f;
	c->remaining = payload_length(h);
	c->fin = (h[0] & 0x80) != 0;
	c->control = opcode >= 8;
	if (opcode == 8) {
		die("the server sent a Close during the echo");
	}
	if (!c->control) {
		if (opcode != 0) {
			if (c->in_message) {
				die("a new message before the previous one's last frame");
			}
			c->in_message = 1;
			c->opcode = opcode;
			c->compressed = (h[0] & 0x40) != 0;
			if (c->compressed && !opt_deflate) {
				die("a compressed echo without permessage-deflate");
			}
			c->message_length = 0;
			c->tag_length = 0;
		} else if (!c->in_message) {
			die("a continuation frame outside a message");
		}
	}
	c->in_payload = 1;
}

static void frame_end(echo_conn *c) {
	c->in_payload = 0;
	if (c->control || !c->fin) {
		return;
	}
#ifdef HAVE_ZLIB
	if (c->compressed) {
		static const uint8_t trailer[4] = {0x00, 0x00, 0xff, 0xff};
		inflate_bytes(c, trailer, 4);
	}
#endif
	message_end(c);
}

static void parse(echo_conn *c, const uint8_t *p, size_t n) {
	size_t i = 0;
	// Bounded: each turn consumes at least one byte, or ends a zero-length frame.
	while (i < n || (c->in_payload && c->remaining == 0)) {
		if (c->in_payload) {
			size_t take = c->remaining < n - i ? (size_t)c->remaining : n - i;
			payload(c, p + i, take);
			i += take;
			c->remaining -= take;
			if (c->remaining == 0) {
				frame_end(c);
			}
			continue;
		}
		if (c->header_length == 0 && n - i >= 2 && n - i >= header_size(p[i + 1])) {
			size_t size = header_size(p[i + 1]);
			frame_start(c, p + i);
			i += size;
			continue;
		}
		c->header[c->header_length++] = p[i++];
		if (c->header_length >= 2 && c->header_length == header_size(c->header[1])) {
			c->header_length = 0;
			frame_start(c, c->header);
		}
	}
}

/** Builds the ring: frames with payloads `tag + filler`, masked, compressed with --deflate. */
static void build_ring(void) {
	size_t frame_guess = (size_t)opt_size + 14;
	ring_frames = (8u << 20) / frame_guess;
	ring_frames = ring_frames < 2 ? 2 : ring_frames > 1024 ? 1024 : ring_frames;
	// A multiple of the batch, so a batch never straddles the end of the ring.
	if (ring_frames % opt_batch != 0) {
		ring_frames = (ring_frames / opt_batch + 1) * opt_batch;
	}
	offsets = calloc(ring_frames + 1, sizeof *offsets);
	expected = calloc(ring_frames, TAG);
	uint8_t *plain = malloc((size_t)opt_size + TAG + 1);
	static const char text[] = "The quick brown fox jumps over the lazy dog; {\"id\": 42, \"name\": \"websoup\", \"ok\": true} ";
	size_t capacity = ring_frames * (frame_guess + 64) + 1024;
	ring = malloc(capacity);
	size_t at = 0;
	srand(12345);
#ifdef HAVE_ZLIB
	z_stream deflater;
	memset(&deflater, 0, sizeof deflater);
	if (opt_deflate && deflateInit2(&deflater, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		die("deflateInit2");
	}
#endif
	for (size_t k = 0; k < ring_frames; k++) {
		char tag[24];
		snprintf(tag, sizeof tag, "%08zx", k);
		for (uint64_t j = 0; j < opt_size; j++) {
			plain[j] = opt_deflate ? (uint8_t)text[j % (sizeof text - 1)] : 'a';
		}
		memcpy(plain, tag, opt_size < TAG ? (size_t)opt_size : TAG);
		const uint8_t *body = plain;
		size_t body_length = (size_t)opt_size;
		uint8_t byte0 = (uint8_t)(0x80 | opt_opcode);
#ifdef HAVE_ZLIB
		static uint8_t *compressed;
		if (opt_deflate) {
			size_t bound = deflateBound(&deflater, (uLong)opt_size) + 16;
			compressed = realloc(compressed, bound);
			deflateReset(&deflater);
			deflater.next_in = plain;
			deflater.avail_in = (uInt)opt_size;
			deflater.next_out = compressed;
			deflater.avail_out = (uInt)bound;
			if (deflate(&deflater, Z_SYNC_FLUSH) != Z_OK || deflater.avail_in != 0) {
				die("deflate");
			}
			body = compressed;
			// RFC 7692 §7.2.1: remove the 0x00 0x00 0xff 0xff at the tail.
			body_length = bound - deflater.avail_out - 4;
			byte0 |= 0x40;
		}
#endif
		uint8_t mask[4];
		for (int m = 0; m < 4; m++) {
			mask[m] = (uint8_t)(rand() >> 7);
		}
		if (at + body_length + 14 > capacity) {
			die("ring overflow");
		}
		offsets[k] = at;
		at += put_header(ring + at, byte0, body_length, mask);
		uint8_t *out = ring + at;
		for (size_t j = 0; j < body_length; j++) {
			out[j] = body[j] ^ mask[j & 3];
		}
		memcpy(expected[k], opt_raw ? out : plain, opt_size < TAG ? (size_t)opt_size : TAG);
		at += body_length;
	}
	offsets[ring_frames] = at;
	free(plain);
}

/** A blocking connect and handshake; leftover bytes after the head go through the parser. */
static void echo_open(echo_conn *c, int port) {
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = loopback(port);
	if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0) {
		die_errno("connect");
	}
	no_delay(c->fd);
	size_t rest_at = 0, have = 0;
	if (!opt_raw) {
		char request[512];
		int length = request_head(request, sizeof request, port, opt_deflate);
		if (write(c->fd, request, (size_t)length) != length) {
			die_errno("write request");
		}
		char head[8192];
		char *end = NULL;
		// Bounded by the head buffer's size.
		while (end == NULL) {
			if (have >= sizeof head - 1) {
				die("response head too long");
			}
			ssize_t r = read(c->fd, head + have, sizeof head - 1 - have);
			if (r <= 0) {
				die("closed during the handshake");
			}
			have += (size_t)r;
			head[have] = 0;
			end = strstr(head, "\r\n\r\n");
		}
		*end = 0;
		if (strncmp(head, "HTTP/1.1 101", 12) != 0 || strstr(head, ACCEPT) == NULL) {
			fprintf(stderr, "loadgen: handshake refused: %.80s\n", head);
			exit(2);
		}
		if (opt_deflate != (strcasestr(head, "permessage-deflate") != NULL)) {
			fprintf(stderr, "loadgen: permessage-deflate %s\n", opt_deflate ? "not accepted by the server" : "unexpected");
			exit(2);
		}
		rest_at = (size_t)(end - head) + 4;
		memcpy(readbuf, head + rest_at, have - rest_at);
		have -= rest_at;
	}
#ifdef HAVE_ZLIB
	if (opt_deflate && inflateInit2(&c->inflater, -15) != Z_OK) {
		die("inflateInit2");
	}
#endif
	set_nonblocking(c->fd);
	watch(c->fd, EPOLLIN, c, EPOLL_CTL_ADD);
	parse(c, readbuf, have);
}

static void print_result(uint64_t count, uint64_t bytes, double seconds, double cpu, uint64_t failed) {
	printf("result {\"count\":%llu,\"bytes\":%llu,\"seconds\":%.6f,\"cpu\":%.4f,\"failed\":%llu}\n", (unsigned long long)count,
			(unsigned long long)bytes, seconds, cpu, (unsigned long long)failed);
	fflush(stdout);
}

typedef struct {
	double warmup_end, end, start_wall, start_cpu;
	uint64_t start_count, start_bytes;
	int phase;
} window_t;

static void window_init(window_t *w) {
	double now = now_s();
	w->warmup_end = now + (double)num("--warmup", 250) / 1000;
	w->end = w->warmup_end + (double)num("--duration", 500) / 1000;
	w->phase = 0;
}

/** Advances the window; returns 1 once it is over (result printed). */
static int window_tick(window_t *w, uint64_t count, uint64_t bytes, uint64_t failed) {
	double now = now_s();
	if (w->phase == 0 && now >= w->warmup_end) {
		w->phase = 1;
		w->start_wall = now;
		w->start_cpu = cpu_s();
		w->start_count = count;
		w->start_bytes = bytes;
		printf("mark start\n");
		fflush(stdout);
	} else if (w->phase == 1 && now >= w->end) {
		double seconds = now - w->start_wall;
		double cpu = (cpu_s() - w->start_cpu) / seconds;
		printf("mark end\n");
		print_result(count - w->start_count, bytes - w->start_bytes, seconds, cpu, failed);
		return 1;
	}
	return 0;
}

static int timeout_ms(const window_t *w) {
	double next = w->phase == 0 ? w->warmup_end : w->end;
	double ms = (next - now_s()) * 1000 + 1;
	return ms < 0 ? 0 : ms > 1000 ? 1000 : (int)ms;
}

/** Whether the rest of the current frame's payload needs no looking at (not compressed, tag complete). */
static int skippable(const echo_conn *c) {
	size_t tag = opt_size < TAG ? (size_t)opt_size : TAG;
	return c->in_payload && !c->control && !c->compressed && c->tag_length >= tag && c->remaining >= 65536;
}

static int run_echo(void) {
	int port = (int)num("--port", 0);
	int conns = (int)num("--conns", 50);
	opt_depth = (uint64_t)num("--depth", 16);
	opt_size = (uint64_t)num("--size", 32);
	opt_opcode = (int)num("--opcode", 2);
	opt_raw = arg("--raw", NULL) != NULL;
	opt_deflate = arg("--deflate", NULL) != NULL;
	opt_batch = opt_depth / 2 > 0 ? opt_depth / 2 : 1;
#ifndef HAVE_ZLIB
	if (opt_deflate) {
		die("built without zlib: --deflate is not available");
	}
#endif
	build_ring();
	echo_conn *cs = calloc((size_t)conns, sizeof *cs);
	for (int i = 0; i < conns; i++) {
		echo_open(&cs[i], port);
	}
	window_t w;
	window_init(&w);
	for (int i = 0; i < conns; i++) {
		refill(&cs[i]);
	}
	struct epoll_event events[MAX_EVENTS];
	// Bounded by the window's end.
	for (;;) {
		if (window_tick(&w, total_messages, total_bytes, 0)) {
			return 0;
		}
		int n = epoll_wait(epfd, events, MAX_EVENTS, timeout_ms(&w));
		for (int e = 0; e < n; e++) {
			echo_conn *c = events[e].data.ptr;
			if ((events[e].events & EPOLLIN) && skippable(c)) {
				// The rest of a large payload, its tag already checked: discarded in the kernel,
				// without copying it out (tcp(7) MSG_TRUNC), so large echoes cost the generator
				// half of what they cost the server.
				ssize_t r = recv(c->fd, NULL, (size_t)c->remaining, MSG_TRUNC | MSG_DONTWAIT);
				if (r == 0) {
					die("the server closed a connection during the echo");
				}
				if (r < 0 && errno != EAGAIN && errno != EINTR) {
					die_errno("recv");
				}
				if (r > 0) {
					c->message_length += (uint64_t)r;
					c->remaining -= (uint64_t)r;
					if (c->remaining == 0) {
						frame_end(c);
					}
					refill(c);
				}
			} else if (events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
				ssize_t r = read(c->fd, readbuf, sizeof readbuf);
				if (r == 0) {
					die("the server closed a connection during the echo");
				}
				if (r < 0 && errno != EAGAIN && errno != EINTR) {
					die_errno("read");
				}
				if (r > 0) {
					parse(c, readbuf, (size_t)r);
					refill(c);
				}
			}
			if (events[e].events & EPOLLOUT) {
				flush(c);
			}
		}
	}
}

// --- Handshakes -------------------------------------------------------------------------------

typedef struct {
	int fd;
	int stage; // 0 connecting, 1 reading the head, 2 reading the Close until FIN
	char head[2048];
	size_t have;
	int close_seen;
} shake_conn;

static char shake_request[512];
static int shake_request_length;
static int shake_port;
static uint64_t shakes_done, shakes_failed;
static const uint8_t client_close[] = {0x88, 0x82, 0x12, 0x34, 0x56, 0x78, 0x03 ^ 0x12, 0xe8 ^ 0x34};

static void shake_start(shake_conn *c) {
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd < 0) {
		die_errno("socket");
	}
	// No TCP_NODELAY: the Close is written once the 101 (which acknowledges the request) is in.
	c->stage = 0;
	c->have = 0;
	c->close_seen = 0;
	struct sockaddr_in a = loopback(shake_port);
	if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) {
		die_errno("connect");
	}
	watch(c->fd, EPOLLOUT, c, EPOLL_CTL_ADD);
}

static void shake_finish(shake_conn *c, int ok) {
	close(c->fd);
	if (ok) {
		shakes_done++;
	} else {
		shakes_failed++;
	}
	shake_start(c);
}

static void shake_event(shake_conn *c, uint32_t events) {
	if (c->stage == 0) {
		// A failed connect shows as EPOLLERR, or as the write failing.
		if (events & (EPOLLERR | EPOLLHUP)) {
			shake_finish(c, 0);
			return;
		}
		if (write(c->fd, shake_request, (size_t)shake_request_length) != shake_request_length) {
			shake_finish(c, 0);
			return;
		}
		c->stage = 1;
		watch(c->fd, EPOLLIN, c, EPOLL_CTL_MOD);
		return;
	}
	ssize_t r = read(c->fd, readbuf, 4096);
	if (r < 0) {
		if (errno != EAGAIN && errno != EINTR) {
			shake_finish(c, 0);
		}
		return;
	}
	if (r == 0) {
		shake_finish(c, c->stage == 2 && c->close_seen);
		return;
	}
	const uint8_t *p = readbuf;
	size_t n = (size_t)r;
	if (c->stage == 1) {
		if (c->have + n >= sizeof c->head) {
			shake_finish(c, 0);
			return;
		}
		memcpy(c->head + c->have, p, n);
		c->have += n;
		c->head[c->have] = 0;
		char *end = strstr(c->head, "\r\n\r\n");
		if (end == NULL) {
			return; // need more data
		}
		*end = 0;
		if (strncmp(c->head, "HTTP/1.1 101", 12) != 0 || strstr(c->head, ACCEPT) == NULL) {
			shake_finish(c, 0);
			return;
		}
		size_t rest = (size_t)(end - c->head) + 4;
		p = (const uint8_t *)c->head + rest;
		n = c->have - rest;
		c->stage = 2;
		if (write(c->fd, client_close, sizeof client_close) != (ssize_t)sizeof client_close) {
			shake_finish(c, 0);
			return;
		}
	}
	if (n > 0 && !c->close_seen) {
		if ((p[0] & 0x0f) != 0x8) {
			shake_finish(c, 0);
			return;
		}
		c->close_seen = 1;
	}
}

static int run_handshakes(void) {
	shake_port = (int)num("--port", 0);
	int concurrency = (int)num("--concurrency", 16);
	shake_request_length = request_head(shake_request, sizeof shake_request, shake_port, 0);
	shake_conn *cs = calloc((size_t)concurrency, sizeof *cs);
	window_t w;
	window_init(&w);
	for (int i = 0; i < concurrency; i++) {
		shake_start(&cs[i]);
	}
	struct epoll_event events[MAX_EVENTS];
	// Bounded by the window's end.
	for (;;) {
		if (window_tick(&w, shakes_done, 0, shakes_failed)) {
			return 0;
		}
		int n = epoll_wait(epfd, events, MAX_EVENTS, timeout_ms(&w));
		for (int e = 0; e < n; e++) {
			shake_event(events[e].data.ptr, events[e].events);
		}
	}
}

// --- Echo server (the client figures) ---------------------------------------------------------

static void sha1(const uint8_t *data, size_t length, uint8_t out[20]) {
	uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
	size_t total = ((length + 8) / 64 + 1) * 64;
	uint8_t *m = calloc(total, 1);
	memcpy(m, data, length);
	m[length] = 0x80;
	uint64_t bits = (uint64_t)length * 8;
	for (int i = 0; i < 8; i++) {
		m[total - 1 - i] = (uint8_t)(bits >> (8 * i));
	}
	for (size_t block = 0; block < total; block += 64) {
		uint32_t w[80];
		for (int i = 0; i < 16; i++) {
			w[i] = (uint32_t)m[block + 4 * i] << 24 | (uint32_t)m[block + 4 * i + 1] << 16 | (uint32_t)m[block + 4 * i + 2] << 8 | m[block + 4 * i + 3];
		}
		for (int i = 16; i < 80; i++) {
			uint32_t x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16];
			w[i] = x << 1 | x >> 31;
		}
		uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
		for (int i = 0; i < 80; i++) {
			uint32_t f, k;
			if (i < 20) {
				f = (b & c) | (~b & d), k = 0x5A827999;
			} else if (i < 40) {
				f = b ^ c ^ d, k = 0x6ED9EBA1;
			} else if (i < 60) {
				f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
			} else {
				f = b ^ c ^ d, k = 0xCA62C1D6;
			}
			uint32_t t = (a << 5 | a >> 27) + f + e + k + w[i];
			e = d, d = c, c = b << 30 | b >> 2, b = a, a = t;
		}
		h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
	}
	free(m);
	for (int i = 0; i < 20; i++) {
		out[i] = (uint8_t)(h[i / 4] >> (24 - 8 * (i % 4)));
	}
}

static void base64(const uint8_t *in, size_t length, char *out) {
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < length; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < length ? (uint32_t)in[i + 1] << 8 : 0) | (i + 2 < length ? in[i + 2] : 0);
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = i + 1 < length ? alphabet[v >> 6 & 63] : '=';
		out[o++] = i + 2 < length ? alphabet[v & 63] : '=';
	}
	out[o] = 0;
}

typedef struct {
	int fd;
	int open, closing;
	uint32_t events;
	char head[8192];
	size_t have;
	uint8_t header[14];
	size_t header_length;
	int in_payload, skip;
	uint64_t remaining, position;
	uint8_t mask[4];
	uint8_t *out;
	size_t out_start, out_end, out_capacity;
} serve_conn;

#define OUT_LIMIT (8u << 20)

static void out_reserve(serve_conn *c, size_t n) {
	if (c->out_start == c->out_end) {
		c->out_start = c->out_end = 0;
	}
	if (c->out_end + n > c->out_capacity) {
		if (c->out_start > 0) {
			memmove(c->out, c->out + c->out_start, c->out_end - c->out_start);
			c->out_end -= c->out_start;
			c->out_start = 0;
		}
		if (c->out_end + n > c->out_capacity) {
			c->out_capacity = (c->out_end + n) * 2;
			c->out = realloc(c->out, c->out_capacity);
		}
	}
}

static void serve_close(serve_conn *c) {
	close(c->fd);
	free(c->out);
	free(c);
}

static void serve_interest(serve_conn *c) {
	size_t pending = c->out_end - c->out_start;
	// Reading stops while much waits to be sent (the client does not read).
	uint32_t events = (pending < OUT_LIMIT ? EPOLLIN : 0) | (pending > 0 ? EPOLLOUT : 0);
	if (events != c->events) {
		c->events = events;
		watch(c->fd, events, c, EPOLL_CTL_MOD);
	}
}

/** Returns 0 when the connection was closed. */
static int serve_flush(serve_conn *c) {
	// Bounded: each turn writes at least one byte or stops.
	while (c->out_end > c->out_start) {
		ssize_t w = write(c->fd, c->out + c->out_start, c->out_end - c->out_start);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				break;
			}
			serve_close(c);
			return 0;
		}
		c->out_start += (size_t)w;
	}
	if (c->out_end == c->out_start && c->closing == 1) {
		shutdown(c->fd, SHUT_WR);
		c->closing = 2;
	}
	serve_interest(c);
	return 1;
}

static void serve_frame_start(serve_conn *c, const uint8_t *h) {
	int opcode = h[0] & 0x0f;
	size_t size = header_size(h[1]);
	c->remaining = payload_length(h);
	memcpy(c->mask, h + size - 4, 4);
	c->position = 0;
	c->in_payload = 1;
	c->skip = opcode == 0xa || c->closing != 0;
	if (!c->skip) {
		uint8_t byte0 = (uint8_t)((h[0] & 0xf0) | (opcode == 0x9 ? 0xa : opcode));
		out_reserve(c, 14);
		c->out_end += put_header(c->out + c->out_end, byte0, c->remaining, NULL);
	}
	if (opcode == 0x8 && c->closing == 0) {
		c->closing = 1;
	}
}

static void serve_payload(serve_conn *c, const uint8_t *p, size_t n) {
	if (c->skip) {
		return;
	}
	out_reserve(c, n);
	uint8_t *out = c->out + c->out_end;
	// Eight bytes at a time, with the key rotated to this position.
	uint8_t key[8];
	for (int j = 0; j < 8; j++) {
		key[j] = c->mask[(c->position + (uint64_t)j) & 3];
	}
	uint64_t word_key;
	memcpy(&word_key, key, 8);
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t word;
		memcpy(&word, p + i, 8);
		word ^= word_key;
		memcpy(out + i, &word, 8);
	}
	for (; i < n; i++) {
		out[i] = p[i] ^ c->mask[(c->position + i) & 3];
	}
	c->position += n;
	c->out_end += n;
}

static void serve_parse(serve_conn *c, const uint8_t *p, size_t n) {
	size_t i = 0;
	// Bounded: each turn consumes at least one byte, or ends a zero-length frame.
	while (i < n || (c->in_payload && c->remaining == 0)) {
		if (c->in_payload) {
			size_t take = c->remaining < n - i ? (size_t)c->remaining : n - i;
			serve_payload(c, p + i, take);
			i += take;
			c->remaining -= take;
			if (c->remaining == 0) {
				c->in_payload = 0;
			}
			continue;
		}
		c->header[c->header_length++] = p[i++];
		if (c->header_length >= 2 && c->header_length == header_size(c->header[1])) {
			c->header_length = 0;
			serve_frame_start(c, c->header);
		}
	}
}

static void serve_read(serve_conn *c) {
	ssize_t r = read(c->fd, readbuf, sizeof readbuf);
	if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
		serve_close(c);
		return;
	}
	if (r < 0) {
		return;
	}
	const uint8_t *p = readbuf;
	size_t n = (size_t)r;
	if (!c->open) {
		size_t take = n < sizeof c->head - 1 - c->have ? n : sizeof c->head - 1 - c->have;
		memcpy(c->head + c->have, p, take);
		c->have += take;
		c->head[c->have] = 0;
		char *end = strstr(c->head, "\r\n\r\n");
		if (end == NULL) {
			if (c->have >= sizeof c->head - 1) {
				serve_close(c);
			}
			return; // need more data
		}
		char *key = strcasestr(c->head, "\r\nsec-websocket-key:");
		if (key == NULL || key > end) {
			serve_close(c);
			return;
		}
		key += 20;
		while (*key == ' ') {
			key++;
		}
		char joined[128];
		size_t key_length = strcspn(key, " \r");
		snprintf(joined, sizeof joined, "%.*s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", (int)(key_length < 64 ? key_length : 64), key);
		uint8_t digest[20];
		sha1((const uint8_t *)joined, strlen(joined), digest);
		char accept[32];
		base64(digest, 20, accept);
		char response[256];
		int length = snprintf(response, sizeof response,
				"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", accept);
		out_reserve(c, (size_t)length);
		memcpy(c->out + c->out_end, response, (size_t)length);
		c->out_end += (size_t)length;
		c->open = 1;
		size_t head_length = (size_t)(end - c->head) + 4;
		size_t consumed_before = c->have - take;
		p += head_length - consumed_before;
		n -= head_length - consumed_before;
	}
	serve_parse(c, p, n);
	serve_flush(c);
}

static int run_serve(void) {
	int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int one = 1;
	setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = loopback(0);
	if (bind(listener, (struct sockaddr *)&a, sizeof a) < 0 || listen(listener, 1024) < 0) {
		die_errno("listen");
	}
	socklen_t length = sizeof a;
	getsockname(listener, (struct sockaddr *)&a, &length);
	printf("port %d\n", ntohs(a.sin_port));
	fflush(stdout);
	watch(listener, EPOLLIN, NULL, EPOLL_CTL_ADD);
	struct epoll_event events[MAX_EVENTS];
	// Runs until killed.
	for (;;) {
		int n = epoll_wait(epfd, events, MAX_EVENTS, -1);
		for (int e = 0; e < n; e++) {
			serve_conn *c = events[e].data.ptr;
			if (c == NULL) {
				int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK);
				if (fd >= 0) {
					no_delay(fd);
					c = calloc(1, sizeof *c);
					c->fd = fd;
					c->events = EPOLLIN;
					watch(fd, EPOLLIN, c, EPOLL_CTL_ADD);
				}
				continue;
			}
			if (events[e].events & EPOLLOUT) {
				if (!serve_flush(c)) {
					continue;
				}
			}
			if (events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
				serve_read(c);
			}
		}
	}
	return 0;
}

int main(int argc, char **argv) {
	g_argc = argc;
	g_argv = argv;
	signal(SIGPIPE, SIG_IGN);
	epfd = epoll_create1(0);
	const char *mode = argc > 1 ? argv[1] : "";
	if (strcmp(mode, "echo") == 0) {
		return run_echo();
	}
	if (strcmp(mode, "handshakes") == 0) {
		return run_handshakes();
	}
	if (strcmp(mode, "serve") == 0) {
		return run_serve();
	}
	fprintf(stderr, "usage: loadgen echo|handshakes|serve [--option value]…\n");
	return 64;
}
