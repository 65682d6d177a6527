/* curl_loader: libcurl, loaded the first time something needs an HTTP client (an API
 * destination delivery). Linking it would map some thirty libraries (TLS stacks, LDAP, SSH...)
 * into every daemon at exec, costing start time and resident memory on machines that never
 * call out; loading it on demand keeps `sluice serve` small. */
#ifndef SL_CURL_LOADER_H
#define SL_CURL_LOADER_H

#include <curl/curl.h>
#include <stddef.h>

typedef struct {
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *curl, CURLoption option, ...);
    CURLcode (*easy_perform)(CURL *curl);
    CURLcode (*easy_getinfo)(CURL *curl, CURLINFO info, ...);
    void (*easy_reset)(CURL *curl);
    void (*easy_cleanup)(CURL *curl);
    const char *(*easy_strerror)(CURLcode code);
    struct curl_slist *(*slist_append)(struct curl_slist *list, const char *s);
    void (*slist_free_all)(struct curl_slist *list);
} sl_curl_api;

/* The loaded API (libcurl globally initialised), or NULL with err when libcurl is missing.
 * Thread-safe; loads once. */
const sl_curl_api *sl_curl(char *err, size_t errlen);

#endif
