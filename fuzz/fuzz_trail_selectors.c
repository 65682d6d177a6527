/* Fuzz target: CloudTrail event selectors from arbitrary bytes (PutEventSelectors input from
 * any client). The JSON is compiled as advanced selectors and as basic ones; whatever compiles
 * is matched against a few S3 data events. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "trail/selectors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_t *j = json_loadb((const char *)data, size, 0, NULL);
    if (!j) return 0;
    static const sl_trail_event events[] = {
        {"Data", "s3.amazonaws.com", "PutObject", "AwsApiCall", "AWS::S3::Object",
         "arn:aws:s3:::b/in/a.jpg", "arn:aws:iam::000000000000:root", NULL, false},
        {"Data", "s3.amazonaws.com", "GetObject", "AwsApiCall", "AWS::S3::Object",
         "arn:aws:s3:::b/", NULL, "AccessDenied", true},
        {"Management", NULL, NULL, NULL, NULL, NULL, NULL, NULL, false},
    };
    char err[256];
    for (int as_advanced = 0; as_advanced < 2; as_advanced++) {
        sl_trail_selectors *s = as_advanced ? sl_trail_selectors_compile(NULL, j, err, sizeof err)
                                            : sl_trail_selectors_compile(j, NULL, err, sizeof err);
        for (size_t i = 0; s && i < sizeof events / sizeof events[0]; i++)
            (void)sl_trail_selectors_match(s, &events[i]);
        sl_trail_selectors_free(s);
    }
    json_decref(j);
    return 0;
}
