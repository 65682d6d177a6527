/* fuzz_docker_stream: the Docker Engine wire parsers — the HTTP/1.1 response reader (status,
 * headers, Content-Length / chunked / until-close bodies) feeding the multiplexed log stream
 * demuxer — on arbitrary bytes split at arbitrary points. Whatever the split, the parsers
 * must reach the same verdict and hand out the same body and frames as when fed at once.
 *
 * Input: byte 0 seeds the split sizes, the rest is the response. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "tasks/container_internal.h"

typedef struct {
    sl_docker_demux demux;
    sl_buf body, frames; /* frames: a stream digit whenever the stream changes, then bytes */
    int last_stream;
    bool demux_error;
} sink;

static void on_frame(void *ctx, int stream, const char *p, size_t n) {
    sink *s = ctx;
    if (stream < 0 || stream > 2) abort();
    if (stream != s->last_stream) sl_buf_putc(&s->frames, (char)('0' + stream));
    s->last_stream = stream;
    sl_buf_append(&s->frames, p, n);
}

static void on_body(void *ctx, const char *p, size_t n) {
    sink *s = ctx;
    sl_buf_append(&s->body, p, n);
    if (!s->demux_error && sl_docker_demux_feed(&s->demux, p, n, on_frame, s) != 0)
        s->demux_error = true;
}

/* Returns the reader's verdict: 0 done, 1 still waiting at EOF, -1 error. */
static int run(const uint8_t *data, size_t size, unsigned seed, sink *s, size_t *used_out) {
    sl_http_reader r;
    sl_http_reader_init(&r);
    sl_docker_demux_init(&s->demux);
    size_t off = 0;
    while (off < size && !r.done) {
        size_t step = seed ? 1 + (seed = seed * 1103515245u + 12345u) % 97 : size - off;
        if (step > size - off) step = size - off;
        long used = sl_http_reader_feed(&r, (const char *)data + off, step, on_body, s);
        if (used < 0) {
            *used_out = off;
            return -1;
        }
        if ((size_t)used > step) abort();
        off += (size_t)used;
        if ((size_t)used < step && !r.done) abort();
    }
    *used_out = off;
    if (r.done) return 0;
    return sl_http_reader_eof(&r) == 0 ? 0 : 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    unsigned seed = data[0] | 1u;
    data++, size--;
    sink a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.last_stream = b.last_stream = -1;
    sl_buf_init(&a.body), sl_buf_init(&a.frames), sl_buf_init(&b.body), sl_buf_init(&b.frames);
    size_t ua = 0, ub = 0;
    int va = run(data, size, 0, &a, &ua);
    int vb = run(data, size, seed, &b, &ub);
    if (va != vb) abort();
    if (va == 0) {
        if (ua != ub) abort();
        if (a.body.len != b.body.len || memcmp(a.body.data, b.body.data, a.body.len)) abort();
        if (a.demux_error != b.demux_error) abort();
        if (!a.demux_error &&
            (a.frames.len != b.frames.len || memcmp(a.frames.data, b.frames.data, a.frames.len)))
            abort();
    }
    sl_buf_free(&a.body), sl_buf_free(&a.frames), sl_buf_free(&b.body), sl_buf_free(&b.frames);
    return 0;
}
