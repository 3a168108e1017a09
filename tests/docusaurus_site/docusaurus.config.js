// @ts-check
// docsbot's test site. `url` is a build-time placeholder origin: the test server rewrites it to the
// loopback address it really listens on (sitemap.xml and canonical links are built from it).

/** @type {import('@docusaurus/types').Config} */
const config = {
  title: 'Docsbot Test Site',
  tagline: 'Pages that exercise the HTML to markdown extractor',
  url: 'http://127.0.0.1:18200',
  baseUrl: '/',
  onBrokenLinks: 'throw',
  i18n: {defaultLocale: 'en', locales: ['en']},
  presets: [
    [
      'classic',
      /** @type {import('@docusaurus/preset-classic').Options} */
      ({
        docs: {
          routeBasePath: 'docs',
          sidebarPath: './sidebars.js',
          // Gives every doc page an "Edit this page" link: chrome the extractor must drop.
          editUrl: 'https://example.com/edit/docs/',
          lastVersion: 'current',
          versions: {
            current: {label: '2.0', path: ''},
            '1.0': {label: '1.0', path: '1.0', banner: 'unmaintained'},
          },
        },
        blog: false,
        theme: {},
      }),
    ],
  ],
  themeConfig:
    /** @type {import('@docusaurus/preset-classic').ThemeConfig} */
    ({
      navbar: {
        title: 'Docsbot Test Site',
        items: [
          {type: 'docSidebar', sidebarId: 'tutorialSidebar', position: 'left', label: 'Docs'},
          {type: 'docsVersionDropdown', position: 'right'},
        ],
      },
      footer: {
        style: 'dark',
        links: [{title: 'More', items: [{label: 'Example', href: 'https://example.com/'}]}],
        copyright: 'Footer text that must not be scraped.',
      },
      prism: {
        additionalLanguages: ['bash', 'yaml'],
      },
    }),
};

export default config;
