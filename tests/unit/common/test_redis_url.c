/* The one Redis URL parser (common/redis_url.h) and percent-decoding (common/percent.h): every
 * accepted form with its parts, and the forms refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "common/percent.h"
#include "common/redis_url.h"

static void test_accepted_forms(void **state)
{
    (void)state;
    struct mb_redis_url u;
    assert_int_equal(mb_redis_url_parse("redis://127.0.0.1", &u), 0);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 0);
    assert_string_equal(u.user, "");
    assert_string_equal(u.password, "");

    assert_int_equal(mb_redis_url_parse("REDIS://cache.internal:6380/3", &u), 0);
    assert_string_equal(u.host, "cache.internal");
    assert_int_equal(u.port, 6380);
    assert_int_equal(u.db, 3);

    assert_int_equal(mb_redis_url_parse("redis://s3cr%40t@host", &u), 0);
    assert_string_equal(u.password, "s3cr@t"); /* a lone part before @ is the password */
    assert_string_equal(u.user, "");

    assert_int_equal(mb_redis_url_parse("redis://app:p%3Ass@[::1]:7000", &u), 0);
    assert_string_equal(u.user, "app");
    assert_string_equal(u.password, "p:ss");
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 7000);

    assert_int_equal(mb_redis_url_parse("redis://:pw@host/", &u), 0); /* empty user, empty db path */
    assert_string_equal(u.password, "pw");
    assert_int_equal(u.db, 0);
}

static void test_refused_forms(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "rediss://host",          /* TLS is not supported */
        "http://host",
        "redis://",               /* no host */
        "redis://:pw@",           /* no host after the credentials */
        "redis://host:",          /* empty port */
        "redis://host:0",
        "redis://host:65536",
        "redis://host:12a",
        "redis://[::1",           /* unclosed bracket */
        "redis://[::1]x",
        "redis://host/1x",
        "redis://host/9999999",
        "redis://host?timeout=1", /* no options */
        "redis://u:%zz@host",     /* bad escape */
        "redis://u:%00@host",     /* a NUL */
        NULL,
    };
    struct mb_redis_url u;
    for (size_t i = 0; bad[i]; i++) {
        memset(&u, 'x', sizeof u);
        if (mb_redis_url_parse(bad[i], &u) == 0)
            fail_msg("accepted %s", bad[i]);
        assert_int_equal(u.password[0], 0); /* wiped */
    }
    assert_int_equal(mb_redis_url_parse(NULL, &u), -1);
    char longhost[400] = "redis://";
    memset(longhost + 8, 'h', 300);
    longhost[308] = '\0';
    assert_int_equal(mb_redis_url_parse(longhost, &u), -1);
}

static void test_percent(void **state)
{
    (void)state;
    assert_int_equal(mb_hexval('0'), 0);
    assert_int_equal(mb_hexval('f'), 15);
    assert_int_equal(mb_hexval('F'), 15);
    assert_int_equal(mb_hexval('g'), -1);
    char out[8];
    assert_int_equal(mb_percent_decode("a%20b", 5, out, sizeof out), 0);
    assert_string_equal(out, "a b");
    assert_int_equal(mb_percent_decode("abc%2", 5, out, sizeof out), -1);
    assert_int_equal(mb_percent_decode("12345678", 8, out, sizeof out), -1); /* no room for the NUL */
    assert_int_equal(mb_percent_decode("1234567", 7, out, sizeof out), 0);
}

static void test_address_choice(void **state)
{
    (void)state;
    assert_true(mb_redis_host_is_literal("127.0.0.1"));
    assert_true(mb_redis_host_is_literal("::1"));
    assert_false(mb_redis_host_is_literal("localhost"));
    struct sockaddr_in6 v6 = { .sin6_family = AF_INET6 };
    inet_pton(AF_INET6, "::1", &v6.sin6_addr);
    struct sockaddr_in v4 = { .sin_family = AF_INET };
    inet_pton(AF_INET, "10.1.2.3", &v4.sin_addr);
    struct addrinfo second = { .ai_family = AF_INET, .ai_addr = (struct sockaddr *)&v4 };
    struct addrinfo first = { .ai_family = AF_INET6, .ai_addr = (struct sockaddr *)&v6, .ai_next = &second };
    char ip[64];
    assert_true(mb_redis_pick_address(&first, ip, sizeof ip));
    assert_string_equal(ip, "10.1.2.3"); /* IPv4 preferred even when listed second */
    first.ai_next = NULL;
    assert_true(mb_redis_pick_address(&first, ip, sizeof ip));
    assert_string_equal(ip, "::1");
    assert_false(mb_redis_pick_address(NULL, ip, sizeof ip));
    assert_string_equal(ip, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted_forms),
        cmocka_unit_test(test_refused_forms),
        cmocka_unit_test(test_percent),
        cmocka_unit_test(test_address_choice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
