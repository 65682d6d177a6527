/* upload: the streaming sink behind PutObject and UploadPart. Decodes aws-chunked bodies,
 * hashes every byte once (MD5 for the ETag, the requested S3 checksum, SHA-256 when the
 * client signed the payload), keeps small bodies in memory (they go inline into the store)
 * and streams large ones to a temp file that is published only when every check passed.
 * Never leaves a temp file behind: upload_free discards whatever was not handed over. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "auth/chunked.h"
#include "core/log.h"
#include "objects/hash_pipe.h"
#include "objects/s3.h"

#define PIPE_MIN_BYTES (4u << 20)
#define WRITEBACK_STEP (8u << 20)

struct upload_sink {
    sl_chunked *chunked;
    sl_hasher *hasher;
    hash_pipe *pipe; /* large uploads hash on a thread of their own */
    sl_ck_algo algo;
    bool want_sha256;
    bool to_blob;
    int fd;
    sl_buf mem;
    uint64_t expected; /* decoded length, or UINT64_MAX when unknown */
    uint64_t received;
    uint64_t flushed; /* bytes whose writeback was started (sync_file_range) */
    uint64_t inline_max;
    bool failed;
    bool finished;
    bool blob_owned; /* the blob file is ours to remove on free */
    upload_result result;
};

static sl_ck_algo algo_from_headers(sl_req *req, bool *bad) {
    *bad = false;
    const char *sdk = sl_req_header(req, "x-amz-sdk-checksum-algorithm");
    if (sdk) {
        sl_ck_algo a = sl_ck_algo_parse(sdk);
        if (a == SL_CK_NONE) *bad = true;
        return a;
    }
    const char *trailer = sl_req_header(req, "x-amz-trailer");
    if (trailer && !strncasecmp(trailer, "x-amz-checksum-", 15)) {
        sl_ck_algo a = sl_ck_algo_parse(trailer + 15);
        if (a == SL_CK_NONE) *bad = true;
        return a;
    }
    static const sl_ck_algo all[] = {SL_CK_CRC32, SL_CK_CRC32C, SL_CK_CRC64NVME, SL_CK_SHA1,
                                     SL_CK_SHA256};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (sl_req_header(req, sl_ck_header_name(all[i]))) return all[i];
    return SL_CK_NONE;
}

static int spill_to_blob(s3_call *c, upload_sink *u) {
    u->fd = sl_blob_create_tmp(&c->o->blobs, u->result.blob_id);
    if (u->fd < 0) return -1;
    u->to_blob = true;
    u->blob_owned = true;
    if (u->mem.len && sl_blob_write_all(u->fd, u->mem.data, u->mem.len) != 0) return -1;
    sl_buf_free(&u->mem);
    return 0;
}

upload_sink *upload_begin(s3_call *c, bool force_blob, sl_ck_algo default_algo) {
    sl_req *req = c->req;
    if (!s3_bucket_exists(c, c->bucket)) {
        s3_no_such_bucket(c);
        return NULL;
    }
    upload_sink *u = sl_xcalloc(1, sizeof *u);
    u->fd = -1;
    u->expected = UINT64_MAX;
    u->inline_max = c->o->cfg->inline_max;
    sl_buf_init(&u->mem);
    c->upload = u;
    const char *sha = sl_req_header(req, "x-amz-content-sha256");
    if (sha && !strncmp(sha, "STREAMING-", 10)) {
        sl_chunked_mode mode;
        if (!strcmp(sha, "STREAMING-UNSIGNED-PAYLOAD-TRAILER")) mode = SL_CHUNKED_UNSIGNED;
        else if (!strcmp(sha, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")) mode = SL_CHUNKED_SIGNED;
        else if (!strcmp(sha, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"))
            mode = SL_CHUNKED_SIGNED_TRAILER;
        else {
            s3_error(c, 501, "NotImplemented",
                     "This payload signing mode (SigV4a) is not implemented");
            goto fail;
        }
        u->chunked = sl_chunked_new(mode, &c->auth);
        const char *dl = sl_req_header(req, "x-amz-decoded-content-length");
        if (dl) {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(dl, &end, 10);
            if (errno || *end || end == dl) {
                s3_error(c, 400, "InvalidArgument", "x-amz-decoded-content-length is not a number");
                goto fail;
            }
            u->expected = v;
        } else if (mode != SL_CHUNKED_UNSIGNED) {
            s3_error(c, 411, "MissingContentLength",
                     "You must provide the Content-Length HTTP header.");
            goto fail;
        }
    } else {
        if (sha && strlen(sha) == 64 && !c->auth.presigned) u->want_sha256 = true;
        if (req->has_content_length) u->expected = req->content_length;
    }
    if (u->expected != UINT64_MAX && u->expected > 5ull * 1024 * 1024 * 1024) {
        s3_error(c, 400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size");
        goto fail;
    }
    bool bad_algo;
    u->algo = algo_from_headers(req, &bad_algo);
    if (bad_algo) {
        s3_error(c, 400, "InvalidRequest", "Value for x-amz-checksum-algorithm header is invalid.");
        goto fail;
    }
    if (u->algo == SL_CK_NONE) u->algo = default_algo;
    u->hasher = sl_hasher_new(u->algo, u->want_sha256);
    /* Past a few MiB, hashing on its own thread overlaps it with receiving and writing. */
    if (u->expected != UINT64_MAX && u->expected >= PIPE_MIN_BYTES)
        u->pipe = hash_pipe_start(u->hasher);
    if (force_blob || u->expected == UINT64_MAX || u->expected > u->inline_max) {
        if (force_blob || u->expected != UINT64_MAX) {
            if (spill_to_blob(c, u) != 0) {
                s3_internal_error(c, "cannot create upload file");
                goto fail;
            }
        }
    }
    return u;
fail:
    upload_free(c->o, u);
    c->upload = NULL;
    return NULL;
}

static int sink_write(void *ctx, const char *data, size_t n) {
    s3_call *c = ctx;
    upload_sink *u = c->upload;
    u->received += n;
    if (u->expected != UINT64_MAX && u->received > u->expected) {
        s3_error(c, 400, "IncompleteBody",
                 "The request body is longer than the declared Content-Length");
        return -1;
    }
    if (u->received > S3_MAX_OBJECT) {
        s3_error(c, 400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size");
        return -1;
    }
    if (u->pipe) hash_pipe_push(u->pipe, data, n);
    else sl_hasher_update(u->hasher, data, n);
    if (!u->to_blob && u->mem.len + n > u->inline_max) {
        if (spill_to_blob(c, u) != 0) {
            s3_internal_error(c, "cannot create upload file");
            return -1;
        }
    }
    if (u->to_blob) {
        if (sl_blob_write_all(u->fd, data, n) != 0) {
            if (errno == ENOSPC)
                s3_error(c, 507, "InsufficientStorage", "The data directory is full");
            else s3_internal_error(c, "write to upload file failed");
            return -1;
        }
        /* Start writeback as the body arrives, so the fsync at the end has little left to do
         * and the disk works while the network does. */
        if (u->received - u->flushed >= WRITEBACK_STEP) {
            sync_file_range(u->fd, (off_t)u->flushed, (off_t)(u->received - u->flushed),
                            SYNC_FILE_RANGE_WRITE);
            u->flushed = u->received;
        }
    } else {
        sl_buf_append(&u->mem, data, n);
    }
    return 0;
}

int upload_feed(s3_call *c, const char *data, size_t n) {
    upload_sink *u = c->upload;
    if (u->failed) return -1;
    int rc;
    if (u->chunked) {
        rc = sl_chunked_feed(u->chunked, data, n, sink_write, c);
        if (rc != 0 && !c->req->responded) {
            const char *code = sl_chunked_error_code(u->chunked);
            s3_error(c, 400, code ? code : "InvalidRequest", sl_chunked_error_message(u->chunked));
        }
    } else {
        rc = sink_write(c, data, n);
    }
    if (rc != 0) u->failed = true;
    return rc;
}

static const char *declared_checksum(s3_call *c, upload_sink *u) {
    const char *name = sl_ck_header_name(u->algo);
    const char *v = sl_req_header(c->req, name);
    if (!v && u->chunked) v = sl_chunked_trailer(u->chunked, name);
    return v;
}

int upload_finish(s3_call *c) {
    upload_sink *u = c->upload;
    upload_result *r = &u->result;
    if (u->chunked && sl_chunked_finish(u->chunked) != 0) {
        const char *code = sl_chunked_error_code(u->chunked);
        s3_error(c, 400, code ? code : "IncompleteBody", sl_chunked_error_message(u->chunked));
        return -1;
    }
    if (u->expected != UINT64_MAX && u->received != u->expected) {
        s3_error(
            c, 400, "IncompleteBody",
            "You did not provide the number of bytes specified by the Content-Length HTTP header.");
        return -1;
    }
    hash_pipe_finish(u->pipe);
    u->pipe = NULL;
    char sha_hex[65];
    sl_hasher_final(u->hasher, r->md5_hex, r->md5_raw, r->checksum, r->checksum_raw, sha_hex);
    r->size = u->received;
    r->ck_algo = u->algo;
    snprintf(r->etag, sizeof r->etag, "\"%s\"", r->md5_hex);
    const char *md5 = sl_req_header(c->req, "Content-MD5");
    if (md5) {
        unsigned char given[18];
        if (strlen(md5) != 24 || sl_base64_decode(md5, 24, given) != 16) {
            s3_error(c, 400, "InvalidDigest", "The Content-MD5 you specified is not valid.");
            return -1;
        }
        if (memcmp(given, r->md5_raw, 16) != 0) {
            s3_error(c, 400, "BadDigest",
                     "The Content-MD5 you specified did not match what we received.");
            return -1;
        }
    }
    if (u->want_sha256) {
        const char *declared = sl_req_header(c->req, "x-amz-content-sha256");
        if (strcasecmp(declared, sha_hex) != 0) {
            s3_error(
                c, 400, "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.");
            return -1;
        }
    }
    const char *trailer = sl_req_header(c->req, "x-amz-trailer");
    if (u->chunked && trailer) {
        char lower[64];
        size_t n = strlen(trailer);
        if (n >= sizeof lower) n = sizeof lower - 1;
        for (size_t i = 0; i < n; i++)
            lower[i] =
                (char)((trailer[i] >= 'A' && trailer[i] <= 'Z') ? trailer[i] + 32 : trailer[i]);
        lower[n] = 0;
        if (!sl_chunked_trailer(u->chunked, lower)) {
            char msg[160];
            snprintf(msg, sizeof msg, "The trailer %s was declared in x-amz-trailer but not sent",
                     lower);
            s3_error(c, 400, "MalformedTrailerError", msg);
            return -1;
        }
    }
    if (u->algo != SL_CK_NONE) {
        const char *given = declared_checksum(c, u);
        if (given && strcmp(given, r->checksum) != 0) {
            char msg[128];
            snprintf(msg, sizeof msg, "The %s you specified did not match the calculated checksum.",
                     sl_ck_algo_name(u->algo));
            s3_error(c, 400, "BadDigest", msg);
            return -1;
        }
    }
    if (u->to_blob) {
        int fd = u->fd;
        u->fd = -1;
        if (sl_blob_publish(&c->o->blobs, fd, r->blob_id) != 0) {
            /* The temp file may or may not have moved: try both names. */
            sl_blob_discard_tmp(&c->o->blobs, -1, r->blob_id);
            sl_blob_remove(&c->o->blobs, r->blob_id);
            u->blob_owned = false;
            s3_internal_error(c, "cannot publish upload");
            return -1;
        }
    } else {
        r->blob_id[0] = 0;
    }
    u->finished = true;
    return 0;
}

const upload_result *upload_get_result(const upload_sink *u) { return &u->result; }

char *upload_take_inline(upload_sink *u) {
    if (u->to_blob) return NULL;
    return sl_buf_steal(&u->mem);
}

void upload_disown_blob(upload_sink *u) { u->blob_owned = false; }

void upload_free(sl_objects *o, upload_sink *u) {
    if (!u) return;
    if (u->blob_owned) {
        if (u->finished) sl_blob_remove(&o->blobs, u->result.blob_id);
        else sl_blob_discard_tmp(&o->blobs, u->fd, u->result.blob_id);
    } else if (u->fd >= 0) {
        close(u->fd);
    }
    hash_pipe_finish(u->pipe); /* before the hasher it feeds */
    if (u->chunked) sl_chunked_free(u->chunked);
    if (u->hasher) sl_hasher_free(u->hasher);
    sl_buf_free(&u->mem);
    free(u);
}
