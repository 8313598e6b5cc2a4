#include <netdb.h>
#include <string.h>

#include "zerocopy.h"

static const char *const method_names[ZC_METHOD_COUNT] = {
	[ZC_METHOD_COPY_FILE_RANGE] = "copy_file_range",
	[ZC_METHOD_SENDFILE] = "sendfile",
	[ZC_METHOD_SPLICE] = "splice",
	[ZC_METHOD_SPLICE_PIPE] = "splice-pipe",
	[ZC_METHOD_READ_WRITE] = "read-write",
};

const char *
zc_version(void)
{
	return ZC_VERSION;
}

const char *
zc_strerror(int err)
{
	if (err == -ZC_ELAG)
		return "fell too far behind the stream";
	if (err <= -ZC_EAI_BASE)
		return gai_strerror(-(-err - ZC_EAI_BASE));
	return strerror(err < 0 ? -err : err);
}

const char *
zc_method_name(enum zc_method m)
{
	if ((unsigned)m >= ZC_METHOD_COUNT)
		return "unknown";
	return method_names[m];
}
