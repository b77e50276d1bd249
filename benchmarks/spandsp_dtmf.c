/* spandsp's DTMF receiver (dtmf_rx, Debian libspandsp-dev) over 8 kHz signed 16-bit
 * mono raw audio on stdin; prints "SAMPLE KEY" when a digit starts being reported
 * and "SAMPLE -" when it ends. Built by benchmarks/spandsp.py with gcc.
 * Fed 8 samples (1 ms) at a time so report times resolve to 1 ms. */
#include <stdio.h>
#include <stdint.h>
#include <spandsp.h>

static long pos = 0;

static void on_tone(void *user, int code, int level, int delay)
{
    (void) user; (void) level; (void) delay;
    if (code)
        printf("%ld %c\n", pos, (char) code);
    else
        printf("%ld -\n", pos);
}

static void on_digits(void *user, const char *digits, int len)
{
    (void) user; (void) digits; (void) len;
}

int main(void)
{
    int16_t buf[8];
    size_t n;
    dtmf_rx_state_t *rx = dtmf_rx_init(NULL, on_digits, NULL);
    dtmf_rx_set_realtime_callback(rx, on_tone, NULL);
    while ((n = fread(buf, sizeof(int16_t), 8, stdin)) > 0) {
        pos += (long) n;
        dtmf_rx(rx, buf, (int) n);
    }
    return 0;
}
