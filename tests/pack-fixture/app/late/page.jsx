import { Late } from './late';

export default function Page() {
  return <Late />;
}
