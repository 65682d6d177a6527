/* curl_loader: dlopen("libcurl.so.4") once and resolve the few functions Sluice uses. */
#include "core/curl_loader.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static sl_curl_api api;
static bool loaded;
static char load_error[256];

#define RESOLVE(field, name)                                                                       \
    do {                                                                                           \
        void *found = dlsym(handle, name);                                                         \
        if (!found) {                                                                              \
            snprintf(load_error, sizeof load_error, "libcurl lacks %s", name);                     \
            return;                                                                                \
        }                                                                                          \
        memcpy(&api.field, &found, sizeof found);                                                  \
    } while (0)

static void load(void) {
    void *handle = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        snprintf(load_error, sizeof load_error, "cannot load libcurl.so.4 (install libcurl4): %s",
                 dlerror());
        return;
    }
    CURLcode (*global_init)(long) = NULL;
    void *sym = dlsym(handle, "curl_global_init");
    if (!sym) {
        snprintf(load_error, sizeof load_error, "libcurl lacks curl_global_init");
        return;
    }
    memcpy(&global_init, &sym, sizeof sym);
    RESOLVE(easy_init, "curl_easy_init");
    RESOLVE(easy_setopt, "curl_easy_setopt");
    RESOLVE(easy_perform, "curl_easy_perform");
    RESOLVE(easy_getinfo, "curl_easy_getinfo");
    RESOLVE(easy_reset, "curl_easy_reset");
    RESOLVE(easy_cleanup, "curl_easy_cleanup");
    RESOLVE(easy_strerror, "curl_easy_strerror");
    RESOLVE(slist_append, "curl_slist_append");
    RESOLVE(slist_free_all, "curl_slist_free_all");
    if (global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(load_error, sizeof load_error, "curl_global_init failed");
        return;
    }
    loaded = true; /* the library stays loaded for the life of the process */
}

const sl_curl_api *sl_curl(char *err, size_t errlen) {
    pthread_once(&once, load);
    if (!loaded) {
        snprintf(err, errlen, "%s", load_error);
        return NULL;
    }
    return &api;
}
