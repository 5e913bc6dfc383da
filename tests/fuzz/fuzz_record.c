/*
 * fuzz_record.c: every record the broker and the agent store in LMDB. The
 * first byte picks the record type (fuzz_records in fuzz.h); the rest is
 * decoded, re-encoded and decoded again. The same bytes also go through the
 * store's checksum check, as a raw LMDB value under a key made of the
 * selector byte, exactly as every read path sees them.
 */
#include "fuzz.h"
#include "store.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	MDB_val v;

	if (size < 1)
		return (0);
	v.mv_size = size - 1;
	v.mv_data = (void *)(data + 1);

	fuzz_roundtrip(fuzz_records[data[0] % FUZZ_NELEM(fuzz_records)],
	               data + 1, size - 1);
	if (store_rec_verify(data, 1, &v) == 0 && v.mv_size > size - 1)
		__builtin_trap();
	return (0);
}
