/*
 * fuzz_record.c: every record the broker and the agent store in LMDB. The
 * first byte picks the record type (fuzz_records in fuzz.h); the rest is
 * decoded, re-encoded and decoded again.
 */
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return (0);
	fuzz_roundtrip(fuzz_records[data[0] % FUZZ_NELEM(fuzz_records)],
	               data + 1, size - 1);
	return (0);
}
