/* i18n.h — message translation for the command line and the console:
 * _() translates a user-facing string through gettext (text domain
 * "aethertop"), N_() only marks one for xgettext (tables translated where
 * they are shown). JSON bodies never go through here: they stay exactly the
 * reference's. */
#ifndef AETHERTOP_I18N_H
#define AETHERTOP_I18N_H

#include <libintl.h>

#define _(s) gettext(s)
#define N_(s) (s)

/* setlocale(LC_ALL, "") (falling back to C.UTF-8 when the locale named by
 * LC_ALL / LC_MESSAGES / LANG is not installed, keeping its language for
 * messages), then bind the "aethertop" catalogues: $AETHERTOP_LOCALEDIR,
 * else <dir of the binary>/locale (a build tree), else
 * <dir of the binary>/../share/locale (an installed or unpacked tree), else
 * the configured install prefix's. Translations only for a UTF-8 locale. */
void at_i18n_init(void);
/* The directory the catalogues were bound to ("" before at_i18n_init or
 * when translations are off). */
const char *at_i18n_localedir(void);

#endif
