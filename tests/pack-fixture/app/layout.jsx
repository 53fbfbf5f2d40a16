// The root layout of the Next.js fixture (App Router). No next/font: the build runs offline.
export const metadata = { title: 'Emban Next.js fixture' };

export default function RootLayout({ children }) {
  return (
    <html lang="en">
      <body style={{ margin: 0 }}>{children}</body>
    </html>
  );
}
