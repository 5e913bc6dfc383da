/*
 * fuzz_message.c: every wire message type on its own. The first byte picks
 * the type (fuzz_wire_msgs in fuzz.h); the rest is decoded as that type,
 * re-encoded and decoded again, and the payload checks that apply to the
 * type (feedback, consultation, marking) run on what decoded.
 */
#include <stdlib.h>

#include "feedback.h"
#include "fuzz.h"
#include "log.h"
#include "marking.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const ProtobufCMessageDescriptor *d;
	ProtobufCMessage *m;
	char err[256];
	int c;

	if (size < 1)
		return (0);
	d = fuzz_wire_msgs[data[0] % FUZZ_NELEM(fuzz_wire_msgs)];
	fuzz_roundtrip(d, data + 1, size - 1);
	if ((m = protobuf_c_message_unpack(d, NULL, size - 1, data + 1)) ==
	    NULL)
		return (0);
	if (d == &art17__feedback__descriptor)
		(void)fb_validate((Art17__Feedback *)m, err, sizeof(err));
	else if (d == &art17__consultation__descriptor)
		(void)consult_validate((Art17__Consultation *)m, err,
		                       sizeof(err));
	else if (d == &art17__marking__descriptor)
		for (c = 0; c < MK_NCATEGORY; c++)
			(void)mk_reshare((Art17__Marking *)m, (mk_category)c);
	protobuf_c_message_free_unpacked(m, NULL);
	return (0);
}
